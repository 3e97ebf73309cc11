import Foundation

/// Base class of every Swift object Lua holds in a userdata. Subclasses name their Lua type; the live count
/// lets tests check that dropping a value in Lua really frees the Swift object (`__gc` / `__close`).
open class LuaObject {
    /// The metatable name, shown in errors and `tostring` ("sam2.mask").
    open class var luaTypeName: String { "sam2.object" }

    /// A one-line description for `tostring` and the REPL.
    open var luaDescription: String { Self.luaTypeName }

    private static let counterLock = NSLock()
    nonisolated(unsafe) private static var live = 0

    /// Number of LuaObject instances alive in the process (debug counter for leak tests).
    public static var liveCount: Int {
        counterLock.lock(); defer { counterLock.unlock() }
        return live
    }

    public init() {
        Self.counterLock.lock(); Self.live += 1; Self.counterLock.unlock()
    }

    deinit {
        Self.counterLock.lock(); Self.live -= 1; Self.counterLock.unlock()
    }
}
