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
#endif
