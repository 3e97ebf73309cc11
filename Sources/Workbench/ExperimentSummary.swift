import Foundation
import SAM2

/// Per-condition statistics of an experiment (mean and standard deviation over data items of each metric,
/// mean per-frame curves) and the files that present them: results.json, results.md and PNG plots.
public struct ExperimentSummary {
    /// Mean, sample standard deviation (n − 1; 0 for one value) and count of the finite values.
    public struct Statistic: Equatable {
        public var mean: Double, std: Double, n: Int

        /// Statistics of `values` (non-finite ones skipped; mean NaN when none are left).
        public init(_ values: [Double]) {
            let v = values.filter(\.isFinite)
            n = v.count
            mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
            let m = mean
            std = v.count < 2 ? 0 : (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
        }
    }

    /// One summary row: a variant (with a prompt schedule) over all data items.
    public struct Row {
        public var condition: String
        public var parameters: [(String, String)]
        public var prompt: String
        /// Cells of this condition in the grid.
        public var cells: Int
        /// Finished cells (ok).
        public var done: Int
        public var failed: Int
        public var metrics: [String: Statistic]
        /// Mean over data items at each frame index (NaN where no item has the frame).
        public var perFrame: [String: [Double]]
    }

    public let name: String
    public let grid: ExperimentGrid
    /// Metrics reported, in order.
    public let metricNames: [String]
    /// Per-frame series names, sorted.
    public let seriesNames: [String]
    public let rows: [Row]
    /// Records of the grid's cells that have one, in grid order.
    public let records: [ExperimentRecord]
    public let interrupted: Bool

    /// Groups `records` (latest per key) by condition. `metrics` fixes the reported metrics and their order;
    /// nil reports every numeric field, sorted by name.
    public init(name: String, grid: ExperimentGrid, records byKey: [String: ExperimentRecord], metrics: [String]?, interrupted: Bool) {
        self.name = name; self.grid = grid; self.interrupted = interrupted
        let records = grid.cells.compactMap { byKey[$0.key] }
        self.records = records
        metricNames = metrics ?? Array(Set(records.flatMap { $0.metrics.keys })).sorted()
        seriesNames = Array(Set(records.filter(\.ok).flatMap { $0.perFrame.keys })).sorted()
        var rows: [Row] = []
        for condition in grid.conditionNames {
            let cells = grid.cells.filter { $0.conditionName == condition }
            let mine = cells.compactMap { byKey[$0.key] }
            let ok = mine.filter(\.ok)
            let first = cells[0]
            var stats: [String: Statistic] = [:]
            for m in metricNames { stats[m] = Statistic(ok.map { $0.metrics[m] ?? .nan }) }
            var curves: [String: [Double]] = [:]
            for s in seriesNames {
                let series = ok.compactMap { $0.perFrame[s] }
                let length = series.map(\.count).max() ?? 0
                curves[s] = (0..<length).map { i in Statistic(series.map { i < $0.count ? $0[i] : .nan }).mean }
            }
            rows.append(Row(condition: condition, parameters: first.parameters.map { ($0.name, $0.value.label) },
                            prompt: first.prompt?.label ?? "", cells: cells.count, done: ok.count,
                            failed: mine.count - ok.count, metrics: stats, perFrame: curves))
        }
        self.rows = rows
    }

    /// Finished (ok) cells.
    public var done: Int { records.filter(\.ok).count }
    /// Failed cells.
    public var failed: Int { records.count - done }

    // MARK: Files

    /// results.json: the specification, the summary rows and every cell record.
    public func json(seed: Int) -> [String: Any] {
        func number(_ d: Double) -> Any { d.isFinite ? d : NSNull() }
        return [
            "name": name, "seed": seed, "cells": grid.cells.count, "done": done, "failed": failed,
            "interrupted": interrupted, "metrics": metricNames, "parameters": grid.axes.map(\.name),
            "data": grid.data.map(\.label), "prompts": grid.prompts.map(\.label),
            "summary": rows.map { r -> [String: Any] in
                [
                    "condition": r.condition, "variant": Dictionary(uniqueKeysWithValues: r.parameters.map { ($0.0, $0.1) }),
                    "prompt": r.prompt, "cells": r.cells, "done": r.done, "failed": r.failed,
                    "metrics": r.metrics.mapValues { ["mean": number($0.mean), "std": number($0.std), "n": $0.n] },
                    "per_frame": r.perFrame.mapValues { $0.map(number) },
                ]
            },
            "results": records.map(\.json),
        ]
    }

    /// results.md: a table of mean ± std per condition, the failed cells and links to the plots.
    public func markdown(seed: Int, plots: [String]) -> String {
        var lines = ["# \(name)", ""]
        var status = "\(grid.cells.count) cells: \(done) done, \(failed) failed"
        let missing = grid.cells.count - records.count
        if missing > 0 { status += ", \(missing) not run" }
        status += ". Seed \(seed). Mean ± standard deviation over \(grid.data.count) data item\(grid.data.count == 1 ? "" : "s")."
        if interrupted { status += " Interrupted: re-run to resume." }
        lines += [status, ""]
        let paramNames = grid.axes.map(\.name)
        let variantColumn = paramNames.isEmpty && grid.prompts.isEmpty
        var header = variantColumn ? ["variant"] : paramNames
        if !grid.prompts.isEmpty { header.append("prompt") }
        header += ["done", "failed"] + metricNames
        lines.append("| " + header.map(ExperimentSummary.cell).joined(separator: " | ") + " |")
        lines.append("|" + header.map { _ in "---|" }.joined())
        for r in rows {
            var cells = variantColumn ? ["default"] : r.parameters.map(\.1)
            if !grid.prompts.isEmpty { cells.append(r.prompt) }
            cells += ["\(r.done)/\(r.cells)", String(r.failed)]
            cells += metricNames.map { m in
                guard let s = r.metrics[m], s.n > 0 else { return "–" }
                return s.n > 1 ? String(format: "%.4f ± %.4f", s.mean, s.std) : String(format: "%.4f", s.mean)
            }
            lines.append("| " + cells.map(ExperimentSummary.cell).joined(separator: " | ") + " |")
        }
        let failures = records.filter { !$0.ok }
        if !failures.isEmpty {
            lines += ["", "## Failed cells", ""]
            for r in failures {
                let message = (r.error ?? "").split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                lines.append("- `\(r.key)`: " + String(message.prefix(300)))
            }
        }
        if !plots.isEmpty {
            lines += ["", "## Plots", ""]
            lines += plots.map { "![\($0)](\($0))" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|") }

    /// The charts: `bar_<metric>.png` (mean per condition, error bars = std over data items) for each metric and
    /// `per_frame_<series>.png` (mean curve per condition) for each per-frame series. Returns the file names.
    public func plots(size: (Int, Int), frameLabel: String, frameStart: Double) throws -> [(name: String, image: Image8)] {
        var out: [(String, Image8)] = []
        let conditions = rows.map(\.condition)
        for m in metricNames {
            let stats = rows.map { $0.metrics[m] ?? Statistic([]) }
            guard stats.contains(where: { $0.n > 0 }) else { continue }
            var chart = BarChart(title: "\(name): \(m)", yLabel: m, categories: conditions,
                                 series: [BarChart.Series(name: m, values: stats.map(\.mean), errors: stats.map(\.std))])
            chart.width = size.0; chart.height = size.1
            out.append(("bar_\(ExperimentSummary.fileSafe(m)).png", try chart.render()))
        }
        for s in seriesNames {
            let series = rows.compactMap { r -> LineChart.Series? in
                guard let y = r.perFrame[s], !y.isEmpty else { return nil }
                return LineChart.Series(name: r.condition, x: y.indices.map { Double($0) + frameStart }, y: y)
            }
            guard !series.isEmpty else { continue }
            var chart = LineChart(title: "\(name): \(s) per \(frameLabel)", xLabel: frameLabel, yLabel: s, series: series)
            chart.width = size.0; chart.height = size.1
            out.append(("per_frame_\(ExperimentSummary.fileSafe(s)).png", try chart.render()))
        }
        return out
    }

    /// Letters, digits, '-', '_' and '.' kept; anything else becomes '_'.
    static func fileSafe(_ s: String) -> String {
        String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") ? $0 : "_" })
    }

    /// Writes results.json, the plots and results.md into `folder`; returns the plot file names.
    @discardableResult
    public func write(to folder: String, seed: Int, plots makePlots: Bool, plotSize: (Int, Int),
                      frameLabel: String = "frame", frameStart: Double = 0) throws -> [String] {
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: json(seed: seed), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) }
        catch { throw ExperimentError.unwritable(path: folder + "/results.json", reason: "\(error)") }
        try ExperimentStore.writeAtomically(data, to: folder + "/results.json")
        var names: [String] = []
        if makePlots {
            for (file, image) in try plots(size: plotSize, frameLabel: frameLabel, frameStart: frameStart) {
                let png: Data
                do { png = try PNG.encode(image, path: folder + "/" + file) }
                catch { throw ExperimentError.unwritable(path: folder + "/" + file, reason: "\(error)") }
                try ExperimentStore.writeAtomically(png, to: folder + "/" + file)
                names.append(file)
            }
        }
        try ExperimentStore.writeAtomically(markdown(seed: seed, plots: names), to: folder + "/results.md")
        return names
    }
}
