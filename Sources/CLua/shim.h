// Lua 5.4 C API (Debian: liblua5.4-dev, pkg-config lua5.4).
// Swift cannot import function-like macros, so each macro the Workbench uses gets a static inline wrapper
// with the same meaning and a `clua_` prefix.
#ifndef CLUA_SHIM_H
#define CLUA_SHIM_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static inline int clua_pcall(lua_State *L, int nargs, int nresults, int msgh) { return lua_pcall(L, nargs, nresults, msgh); }
static inline void clua_call(lua_State *L, int nargs, int nresults) { lua_call(L, nargs, nresults); }
static inline const char *clua_tostring(lua_State *L, int idx) { return lua_tostring(L, idx); }
static inline lua_Number clua_tonumber(lua_State *L, int idx) { return lua_tonumber(L, idx); }
static inline lua_Integer clua_tointeger(lua_State *L, int idx) { return lua_tointeger(L, idx); }
static inline void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void clua_newtable(lua_State *L) { lua_newtable(L); }
static inline void clua_register(lua_State *L, const char *name, lua_CFunction f) { lua_register(L, name, f); }
static inline void clua_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline int clua_isfunction(lua_State *L, int idx) { return lua_isfunction(L, idx); }
static inline int clua_istable(lua_State *L, int idx) { return lua_istable(L, idx); }
static inline int clua_isnil(lua_State *L, int idx) { return lua_isnil(L, idx); }
static inline int clua_isnoneornil(lua_State *L, int idx) { return lua_isnoneornil(L, idx); }
static inline int clua_isboolean(lua_State *L, int idx) { return lua_isboolean(L, idx); }
static inline int clua_isuserdata_full(lua_State *L, int idx) { return lua_type(L, idx) == LUA_TUSERDATA; }
static inline void clua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline void clua_insert(lua_State *L, int idx) { lua_insert(L, idx); }
static inline void clua_remove(lua_State *L, int idx) { lua_remove(L, idx); }
static inline void clua_replace(lua_State *L, int idx) { lua_replace(L, idx); }
static inline void *clua_newuserdata(lua_State *L, size_t size) { return lua_newuserdatauv(L, size, 1); }
static inline int clua_getuservalue(lua_State *L, int idx) { return lua_getiuservalue(L, idx, 1); }
static inline int clua_setuservalue(lua_State *L, int idx) { return lua_setiuservalue(L, idx, 1); }
static inline int clua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline const char *clua_checkstring(lua_State *L, int arg) { return luaL_checkstring(L, arg); }
static inline const char *clua_optstring(lua_State *L, int arg, const char *d) { return luaL_optstring(L, arg, d); }
static inline void clua_getmetatable_named(lua_State *L, const char *name) { luaL_getmetatable(L, name); }
static inline int clua_dofile(lua_State *L, const char *path) { return luaL_dofile(L, path); }
static inline int clua_dostring(lua_State *L, const char *s) { return luaL_dostring(L, s); }
static inline int clua_loadbuffer(lua_State *L, const char *buf, size_t sz, const char *name) { return luaL_loadbuffer(L, buf, sz, name); }
static inline const char *clua_typename_at(lua_State *L, int idx) { return luaL_typename(L, idx); }
static inline void clua_newlib_table(lua_State *L, int n) { lua_createtable(L, 0, n); }
static inline int clua_yield(lua_State *L, int nresults) { return lua_yield(L, nresults); }
static inline int clua_ok(void) { return LUA_OK; }
static inline int clua_multret(void) { return LUA_MULTRET; }

static inline int clua_isinteger(lua_State *L, int idx) { return lua_isinteger(L, idx); }
static inline void **clua_extraspace(lua_State *L) { return (void **)lua_getextraspace(L); }

/* ---- Swift functions callable from Lua -------------------------------------------------------------------
 * lua_error (and every API function that may raise: luaL_check*, lua_gettable with metamethods, lua_call...)
 * longjmps to the nearest protected call. A longjmp across Swift frames skips their cleanups (releases,
 * defers, unlocks) and is undefined behaviour, so Lua is never allowed to raise while a Swift frame is live:
 *
 *   Lua --calls--> clua_swift_dispatch (C, the lua_CFunction Lua sees)
 *                    --calls--> the Swift entry point (@convention(c), never throws, never raises)
 *                    <--returns-- n >= 0 results, or CLUA_SWIFT_ERROR / CLUA_SWIFT_RETHROW with the error on top
 *                  raises with lua_error here, in C, after every Swift frame has returned.
 *
 * The Swift side only uses API functions that cannot raise a Lua error (type queries, lua_to*, raw table
 * access, lua_push*, lua_pcall); the one exception the C API allows for those is LUA_ERRMEM from an
 * allocation, which the default allocator on Linux does not produce in practice. Lua functions that Swift
 * calls back (progress callbacks, later memory policies) run under lua_pcall, so their errors return to
 * Swift as a status, become a Swift error, and reach Lua again through this dispatcher.
 * Upvalue 1 is the Swift entry point (light userdata), upvalue 2 the integer id of the Swift closure. */
typedef int (*clua_SwiftEntry)(lua_State *L);
#define CLUA_SWIFT_ERROR (-1)   /* message string on top: prefix the caller's file:line, then raise */
#define CLUA_SWIFT_RETHROW (-2) /* error value on top (from a Lua callback): raise it unchanged */

static inline int clua_swift_dispatch(lua_State *L) {
    clua_SwiftEntry entry = (clua_SwiftEntry)lua_touserdata(L, lua_upvalueindex(1));
    int n = entry(L);
    if (n == CLUA_SWIFT_ERROR) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    if (n == CLUA_SWIFT_RETHROW) return lua_error(L);
    return n;
}

/* Pushes a Lua function that runs Swift closure `id` through `entry`. */
static inline void clua_pushswiftfunction(lua_State *L, clua_SwiftEntry entry, lua_Integer id) {
    lua_pushlightuserdata(L, (void *)entry);
    lua_pushinteger(L, id);
    lua_pushcclosure(L, clua_swift_dispatch, 2);
}

static inline int clua_swiftfunction_id(lua_State *L) { return (int)lua_tointeger(L, lua_upvalueindex(2)); }

/* Message handler for script runs (as lua.c's msghandler): non-string errors use __tostring when present,
 * then the message gets a traceback. Runs in C inside the failing pcall, so it may raise. */
static inline int clua_msghandler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}
static inline void clua_pushmsghandler(lua_State *L) { lua_pushcfunction(L, clua_msghandler); }
#endif
