import Foundation
import SAM2

/// The `plot` library: `plot.line{…}` and `plot.bar{…}` render charts (SAM2 `LineChart` / `BarChart`) to a
/// `sam2.image`, saved as PNG when `out` is given.
enum PlotBindings {
    static let common = ["title", "x_label", "y_label", "width", "height", "y_min", "y_max", "out"]

    static var members: [(String, LuaFunction)] { [("line", line), ("bar", bar), ("loss_curve", lossCurve)] }

    /// plot.loss_curve{log = "train_log.csv", out = "loss_curve.png", window = 50} → out: the trainer's loss plot
    static func lossCurve(_ call: LuaCall) throws -> [LuaValue] {
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table {log = …, out = …}", got: .nil) }
        let o = try call.options(1, known: ["log", "out", "window"])
        guard let log = try o.string("log") else { throw o.error("log", "required: a train_log.csv written by workbench train") }
        guard let out = try o.string("out") else { throw o.error("out", "required: the PNG to write") }
        let window = try o.int("window") ?? 50
        guard window >= 1 else { throw o.error("window", "a whole number ≥ 1 expected, got \(window)") }
        guard try TrainingRun.writeLossCurve(log: log, to: out, window: window) else {
            throw o.error("log", "\(log) has no step rows (step,lr,loss,… expected)")
        }
        return [.string(out)]
    }

    /// plot.line{series = {{name, x, y}, …}, title, x_label, y_label, width, height, y_min, y_max, markers, out}
    static func line(_ call: LuaCall) throws -> [LuaValue] {
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table", got: .nil) }
        let o = try call.options(1, known: common + ["series", "markers"])
        guard let list = try o.table("series"), !list.array.isEmpty else { throw o.error("series", "a list of {name, y [, x]} expected") }
        var chart = LineChart()
        chart.series = try list.array.enumerated().map { i, v in
            guard case let .table(t) = v else { throw o.error("series", "item \(i + 1): table {name, y [, x]} expected, got \(v.typeName)") }
            guard case let .table(y) = t["y"] else { throw o.error("series", "item \(i + 1): y (a list of numbers) expected") }
            let ys = try numbers(y) { o.error("series", "item \(i + 1).y: \($0)") }
            var xs: [Double]? = nil
            if case let .table(x) = t["x"] { xs = try numbers(x) { o.error("series", "item \(i + 1).x: \($0)") } }
            var name = "series \(i + 1)"
            if case let .string(s) = t["name"] { name = s }
            return LineChart.Series(name: name, x: xs, y: ys)
        }
        chart.markers = try o.bool("markers")
        try common(o, &chart.title, &chart.xLabel, &chart.yLabel, &chart.width, &chart.height, &chart.yMin, &chart.yMax)
        return try finish(try render(o) { try chart.render() }, o)
    }

    /// plot.bar{categories = {…}, series = {{name, values, errors}, …} or values/errors, title, …, out}
    static func bar(_ call: LuaCall) throws -> [LuaValue] {
        if case .nil = try call.value(1) { throw call.typeError(1, expected: "table", got: .nil) }
        let o = try call.options(1, known: common + ["categories", "series", "values", "errors"])
        guard let cats = try o.table("categories"), !cats.array.isEmpty else { throw o.error("categories", "a list of names expected") }
        var chart = BarChart()
        chart.categories = cats.array.map { v in
            switch v {
            case let .string(s): return s
            case let .int(i): return String(i)
            case let .number(d): return ExperimentGrid.format(d)
            default: return v.typeName
            }
        }
        if let list = try o.table("series") {
            guard o["values"].isNil else { throw o.error("values", "give either series or values, not both") }
            chart.series = try list.array.enumerated().map { i, v in
                guard case let .table(t) = v, case let .table(values) = t["values"] else {
                    throw o.error("series", "item \(i + 1): table {name, values [, errors]} expected")
                }
                var errors: [Double]? = nil
                if case let .table(e) = t["errors"] { errors = try numbers(e) { o.error("series", "item \(i + 1).errors: \($0)") } }
                var name = "series \(i + 1)"
                if case let .string(s) = t["name"] { name = s }
                return BarChart.Series(name: name, values: try numbers(values) { o.error("series", "item \(i + 1).values: \($0)") }, errors: errors)
            }
        } else if let values = try o.numbers("values") {
            chart.series = [BarChart.Series(name: "value", values: values, errors: try o.numbers("errors"))]
        } else {
            throw o.error("values", "values (a list of numbers) or series expected")
        }
        try common(o, &chart.title, &chart.xLabel, &chart.yLabel, &chart.width, &chart.height, &chart.yMin, &chart.yMax)
        return try finish(try render(o) { try chart.render() }, o)
    }

    static func numbers(_ t: LuaTable, fail: (String) -> Error) throws -> [Double] {
        try LuaOptions.numbers(t, count: nil, fail: fail)
    }

    static func common(_ o: LuaOptions, _ title: inout String, _ xLabel: inout String, _ yLabel: inout String,
                       _ width: inout Int, _ height: inout Int, _ yMin: inout Double?, _ yMax: inout Double?) throws {
        if let s = try o.string("title") { title = s }
        if let s = try o.string("x_label") { xLabel = s }
        if let s = try o.string("y_label") { yLabel = s }
        if let w = try o.int("width") { width = w }
        if let h = try o.int("height") { height = h }
        yMin = try o.number("y_min"); yMax = try o.number("y_max")
    }

    /// Renders, turning chart errors into errors that name the argument.
    static func render(_ o: LuaOptions, _ body: () throws -> Image8) throws -> Image8 {
        do { return try body() } catch let e as PlotError { throw o.call.argumentError(o.position, "\(e)") }
    }

    static func finish(_ image: Image8, _ o: LuaOptions) throws -> [LuaValue] {
        if let path = try o.string("out") {
            try Files.prepareParent(of: path)
            try ImageIO.write(image, to: path)
        }
        return [.object(ImageObject(image))]
    }
}

extension LuaValue {
    /// True for nil.
    var isNil: Bool { if case .nil = self { return true } else { return false } }
}
