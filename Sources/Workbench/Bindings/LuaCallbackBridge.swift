import Foundation

/// What a native component written in Lua (a memory policy, a prompt schedule) needs to call its callbacks:
/// the Lua call it is serving while the native code runs, and the first callback error, which the component's
/// non-throwing protocol methods cannot return. `run(call:)` opens that window and re-raises the recorded error
/// as the Lua error of the call; outside it no callback runs. Callbacks run on the thread of that call.
final class LuaCallbackBridge: @unchecked Sendable {
    /// "memory policy 'name'" / "prompt schedule 'name'", the prefix of every error message.
    let label: String
    /// Where the component may run from, for the error raised outside a Lua call.
    let usage: String
    /// The state that registered the component; calls from other states are refused.
    private weak var state: LuaState?
    /// The Lua call the native code is serving (set by `run(call:)`).
    private var call: LuaCall?
    /// The first callback error since `run(call:)` began.
    private(set) var failure: Error?

    init(label: String, usage: String, state: LuaState?) {
        self.label = label; self.usage = usage; self.state = state
    }

    /// Runs `body` with callbacks enabled on `call`; a callback error wins over the error the native code raised
    /// because of it.
    func run<T>(call: LuaCall, _ body: () throws -> T) throws -> T {
        guard state === call.state else { throw BindingError.invalid("\(label) was registered by another Lua state") }
        self.call = call
        failure = nil
        defer { self.call = nil; failure = nil }
        let result: T
        do { result = try body() } catch { throw failure ?? error }
        if let failure { throw failure }
        return result
    }

    /// Keeps the first error, for `run(call:)` to raise.
    func record(_ error: Error) { failure = failure ?? error }

    /// Calls `function` (the callback named `callback`) with `arguments` under a protected call; a Lua error keeps
    /// the callback's own file:line and gains the component's name.
    func invoke(_ callback: String, _ function: LuaValue, _ arguments: [LuaValue]) throws -> [LuaValue] {
        guard let call else { throw BindingError.invalid("\(label): \(callback) called outside a Lua call (\(usage))") }
        do {
            return try call.callFunction(function, arguments)
        } catch let e as LuaCallbackError {
            throw BindingError.invalid("\(label): error in \(callback)(query): \(e.message)")
        }
    }
}
