import CLua
import Foundation
import SAM2

enum ExperimentBindings {
    static let known = ["name", "data", "model", "vary", "prompts", "metrics", "run", "out", "seed", "retry_failed",
                        "progress", "plots", "plot_size", "frame_label", "frame_start", "exit_on_interrupt"]

    /// workbench.experiment{name, data, model, vary, prompts, metrics, run, out, seed, …} → summary table
    static func experiment(_ call: LuaCall) throws -> [LuaValue] {
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table", got: .nil) }
        let o = try call.options(1, known: known)
        guard let out = try o.string("out") else { throw o.error("out", "required (the results folder)") }
        guard let run = try o.function("run") else {
            throw o.error("run", "required: a function(cell) returning a table of metrics")
        }
        var axes: [ExperimentAxis] = []
        if let vary = try o.table("vary") {
            guard vary.array.isEmpty else { throw o.error("vary", "a table of named lists expected ({name = {v1, v2}, …})") }
            for (name, v) in vary.fields {
                if case let .table(t) = v, t.fields.isEmpty || !t.array.isEmpty {
                    guard !t.array.isEmpty else { throw o.error("vary", "'\(name)': at least one value expected") }
                    axes.append(ExperimentAxis(name: name, values: t.array))
                } else {
                    axes.append(ExperimentAxis(name: name, values: [v]))  // a fixed parameter
                }
            }
        }
        var data: [LuaValue]
        switch o["data"] {
        case .nil: data = [.nil]
        case let .string(folder):
            do { data = try ExperimentGrid.items(ofFolder: folder) } catch { throw o.error("data", "\(error)") }
        case let .table(t):
            guard !t.array.isEmpty else { throw o.error("data", "a non-empty list or a dataset folder expected") }
            data = t.array
        case let v: throw o.error("data", "list or folder expected, got \(v.typeName)")
        }
        var prompts: [LuaValue] = []
        if let t = try o.table("prompts") {
            guard !t.array.isEmpty else { throw o.error("prompts", "a non-empty list expected (or leave it out)") }
            prompts = t.array
        }
        var options = ExperimentRunner.Options(out: out)
        if let n = try o.string("name") { options.name = n }
        if let s = try o.int("seed") { options.seed = s }
        if let t = try o.table("metrics") {
            options.metrics = try t.array.enumerated().map { i, v in
                guard case let .string(s) = v else { throw o.error("metrics", "item \(i + 1): string expected, got \(v.typeName)") }
                return s
            }
        }
        if let b = try o.bool("retry_failed") { options.retryFailed = b }
        if let b = try o.bool("progress") { options.progress = b }
        if let b = try o.bool("plots") { options.plots = b }
        if let size = try o.numbers("plot_size", count: 2) {
            guard let w = LuaCall.exactInt(size[0]), let h = LuaCall.exactInt(size[1]),
                  Plot.sizeRange.width.contains(w), Plot.sizeRange.height.contains(h) else {
                throw o.error("plot_size", "{w, h} with w in \(Plot.sizeRange.width) and h in \(Plot.sizeRange.height) expected")
            }
            options.plotSize = (w, h)
        }
        if let s = try o.string("frame_label") { options.frameLabel = s }
        if let x = try o.number("frame_start") { options.frameStart = x }
        let exitOnInterrupt = try o.bool("exit_on_interrupt") ?? true
        let grid: ExperimentGrid
        do { grid = try ExperimentGrid(axes: axes, data: data, prompts: prompts, seed: options.seed) }
        catch { throw o.error("vary", "\(error)") }
        let model = o["model"]

        ExperimentInterrupt.reset()
        let previous = ExperimentInterrupt.install()
        defer { ExperimentInterrupt.restore(previous) }
        let runner = ExperimentRunner(grid: grid, options: options)
        let outcome = try runner.run { cell in
            let table = cellTable(cell, grid: grid, options: options, model: model)
            do {
                let results = try call.callFunction(run, [table])
                return parse(results.first ?? .nil)
            } catch let e as LuaCallbackError {
                if e.reference != LUA_NOREF { luaL_unref(call.L, clua_registryindex(), e.reference) }
                return .failed(e.message)
            } catch {
                return .failed("\(error)")
            }
        }
        if outcome.interrupted && exitOnInterrupt {
            fflush(nil)
            exit(130)
        }
        return [summaryTable(outcome, options: options)]
    }

    /// The table `run` receives.
    static func cellTable(_ cell: ExperimentCell, grid: ExperimentGrid, options: ExperimentRunner.Options, model: LuaValue) -> LuaValue {
        var fields: [(String, LuaValue)] = [
            ("key", .string(cell.key)), ("index", .int(cell.index + 1)), ("total", .int(grid.cells.count)),
            ("seed", .int(cell.seed)), ("name", .string(options.name)), ("out", .string(options.out)),
            ("dir", .string(options.out + "/cells/" + ExperimentSummary.fileSafe(cell.key.replacingOccurrences(of: " | ", with: "__")))),
            ("variant", .record(cell.parameters.map { ($0.name, $0.value.value) })),
            ("variant_name", .string(cell.variantName)),
            ("data", cell.data.value), ("data_name", .string(cell.data.label)), ("model", model),
        ]
        if let p = cell.prompt { fields += [("prompt", p.value), ("prompt_name", .string(p.label))] }
        return .record(fields)
    }

    /// Reads what `run` returned: numbers are metrics, strings and booleans values, `per_frame` named series.
    static func parse(_ v: LuaValue) -> ExperimentRunner.CellResult {
        var metrics: [String: Double] = [:], values: [String: String] = [:], perFrame: [String: [Double]] = [:]
        switch v {
        case .nil: break
        case let .table(t):
            for (k, f) in t.fields {
                switch f {
                case let .int(i): metrics[k] = Double(i)
                case let .number(d): metrics[k] = d
                case let .string(s): values[k] = s
                case let .bool(b): values[k] = b ? "true" : "false"
                case let .table(series) where k == "per_frame":
                    for (name, list) in series.fields {
                        guard case let .table(l) = list else { return .failed("run returned per_frame.\(name): a list of numbers expected, got \(list.typeName)") }
                        var numbers: [Double] = []
                        for (i, x) in l.array.enumerated() {
                            guard let d = x.double else { return .failed("run returned per_frame.\(name)[\(i + 1)]: number expected, got \(x.typeName)") }
                            numbers.append(d)
                        }
                        perFrame[name] = numbers
                    }
                default: break  // masks, images and other tables the cell hands back are not results
                }
            }
        default: return .failed("run returned a \(v.typeName); a table of metrics expected")
        }
        return .ok(metrics: metrics, values: values, perFrame: perFrame)
    }

    static func recordTable(_ r: ExperimentRecord) -> LuaValue {
        var fields: [(String, LuaValue)] = [
            ("key", .string(r.key)), ("variant", .string(r.variant)), ("data", .string(r.data)), ("seed", .int(r.seed)),
            ("ok", .bool(r.ok)), ("seconds", .number(r.seconds)),
            ("parameters", .record(r.parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("metrics", .record(r.metrics.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
            ("values", .record(r.values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("per_frame", .record(r.perFrame.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map { .number($0) })) })),
        ]
        if !r.prompt.isEmpty { fields.append(("prompt", .string(r.prompt))) }
        if let e = r.error { fields.append(("error", .string(e))) }
        return .record(fields)
    }

    static func summaryTable(_ outcome: ExperimentRunner.Outcome, options: ExperimentRunner.Options) -> LuaValue {
        let s = outcome.summary
        return .record([
            ("out", .string(options.out)), ("cells", .int(s.grid.cells.count)), ("done", .int(s.done)),
            ("failed", .int(s.failed)), ("ran", .int(outcome.ran)), ("skipped", .int(outcome.skipped)),
            ("interrupted", .bool(outcome.interrupted)), ("metrics", .array(s.metricNames.map { .string($0) })),
            ("plots", .array(outcome.plots.map { .string($0) })),
            ("results", .array(s.records.map(recordTable))),
            ("summary", .array(s.rows.map { r in
                var fields: [(String, LuaValue)] = [
                    ("condition", .string(r.condition)), ("variant", .record(r.parameters.map { ($0.0, .string($0.1)) })),
                    ("cells", .int(r.cells)), ("done", .int(r.done)), ("failed", .int(r.failed)),
                    ("metrics", .record(r.metrics.sorted { $0.key < $1.key }.map { m in
                        (m.key, .record([("mean", .number(m.value.mean)), ("std", .number(m.value.std)), ("n", .int(m.value.n))]))
                    })),
                    ("per_frame", .record(r.perFrame.sorted { $0.key < $1.key }.map { ($0.key, .array($0.value.map { .number($0) })) })),
                ]
                if !r.prompt.isEmpty { fields.append(("prompt", .string(r.prompt))) }
                return .record(fields)
            })),
        ])
    }
}
