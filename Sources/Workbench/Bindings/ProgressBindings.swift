import Foundation
import SAM2

/// A progress bar held by Lua (`workbench.progress{total = N, …}`): the same bar with ETA on stderr the CLI draws.
final class ProgressObject: LuaObject {
    override class var luaTypeName: String { "workbench.progress" }
    let bar: ProgressBar
    init(bar: ProgressBar) { self.bar = bar }
    override var luaDescription: String { "workbench.progress \(bar.label) (\(bar.completed)/\(bar.total) \(bar.unit))" }
    // A bar dropped without finish() still ends its line.
    deinit { bar.finish() }
}

enum ProgressBindings {
    static let known = ["total", "label", "unit"]

    /// workbench.progress{total = N, label = "…", unit = "…"} → bar with :advance([n]), :status(text), :finish()
    static func progress(_ call: LuaCall) throws -> [LuaValue] {
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table {total = N, …}", got: .nil) }
        let o = try call.options(1, known: known)
        guard let total = try o.int("total"), total >= 0 else {
            throw o.error("total", "required: the number of units of work (a whole number ≥ 0)")
        }
        let bar = ProgressBar(total: total, label: try o.string("label") ?? "progress", unit: try o.string("unit") ?? "items")
        return [.object(ProgressObject(bar: bar))]
    }

    static func install(into state: LuaState) {
        state.defineType(ProgressObject.self, methods: [
            ("advance", { call, me in
                let n = call.count >= 2 ? try call.int(2) : 1
                guard n >= 0 else { throw call.argumentError(2, "a whole number ≥ 0 expected, got \(n)") }
                me.bar.advance(by: n)
                return []
            }),
            ("status", { call, me in me.bar.setStatus(try call.string(2)); return [] }),
            ("finish", { _, me in me.bar.finish(); return [] }),
        ], properties: [
            ("done", { .int($0.bar.completed) }),
            ("total", { .int($0.bar.total) }),
        ])
    }
}
