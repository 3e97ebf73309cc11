import Foundation
import SAM2

/// Runs an `ExperimentGrid`: each cell not finished by an earlier run goes through `run` (the user's
/// workload), is recorded the moment it completes, and the summary files are rewritten at the end (also after
/// Ctrl-C). A failing cell is recorded with its error and the grid goes on.
public final class ExperimentRunner {
    /// What to run and where; see `workbench.experiment` in docs/lua-api.md.
    public struct Options {
        public var name = "experiment"
        public var out: String
        public var seed = 0
        /// Metrics to report, in order (nil: every numeric field).
        public var metrics: [String]? = nil
        /// Re-run cells whose stored record is a failure.
        public var retryFailed = true
        public var progress = true
        public var plots = true
        public var plotSize = (720, 420)
        public var frameLabel = "frame"
        public var frameStart = 0.0

        /// Options writing into `out`.
        public init(out: String) { self.out = out }
    }

    /// What a run did.
    public struct Outcome {
        public var summary: ExperimentSummary
        /// Cells run now (finished or failed).
        public var ran: Int
        /// Cells skipped because an earlier run finished them.
        public var skipped: Int
        public var interrupted: Bool
        public var plots: [String]
    }

    /// The cell's result: ok with its fields, or the error message.
    public enum CellResult {
        case ok(metrics: [String: Double], values: [String: String], perFrame: [String: [Double]])
        case failed(String)
    }

    public let grid: ExperimentGrid
    public let options: Options

    /// A runner for `grid`.
    public init(grid: ExperimentGrid, options: Options) { self.grid = grid; self.options = options }

    /// Runs the unfinished cells through `run`, stopping between cells when `ExperimentInterrupt.requested`.
    public func run(_ run: (ExperimentCell) -> CellResult) throws -> Outcome {
        let store = try ExperimentStore(folder: options.out, parameterNames: grid.axes.map(\.name), hasPrompts: !grid.prompts.isEmpty)
        let keys = grid.cells.map(\.key)
        try store.rewriteCSV(keys: keys)
        let todo = grid.cells.filter { c in
            guard let r = store.records[c.key] else { return true }
            return !r.ok && options.retryFailed
        }
        let skipped = grid.cells.count - todo.count
        if options.progress && skipped > 0 {
            ExperimentRunner.log("\(options.name): resuming, \(skipped) of \(grid.cells.count) cells already done")
        }
        let bar = options.progress && !todo.isEmpty ? ProgressBar(total: todo.count, label: options.name, unit: "cells") : nil
        var ran = 0, interrupted = false
        for cell in todo {
            if ExperimentInterrupt.requested { interrupted = true; break }
            let start = Date()
            let result = run(cell)
            let seconds = Date().timeIntervalSince(start)
            var record = ExperimentRecord(key: cell.key, parameters: Dictionary(uniqueKeysWithValues: cell.parameters.map { ($0.name, $0.value.label) }),
                                          variant: cell.variantName, data: cell.data.label, prompt: cell.prompt?.label ?? "",
                                          seed: cell.seed, ok: true, seconds: seconds)
            switch result {
            case let .ok(metrics, values, perFrame):
                record.metrics = metrics; record.values = values; record.perFrame = perFrame
            case let .failed(message):
                record.ok = false; record.error = message
                if options.progress { ExperimentRunner.log("\(options.name): cell \(cell.key) failed: \(message)") }
            }
            try store.add(record)
            ran += 1
            bar?.advance()
        }
        if ExperimentInterrupt.requested { interrupted = true }
        if !interrupted { bar?.finish() }
        let summary = ExperimentSummary(name: options.name, grid: grid, records: store.records, metrics: options.metrics,
                                        interrupted: interrupted)
        let plots = try summary.write(to: options.out, seed: options.seed, plots: options.plots, plotSize: options.plotSize,
                                      frameLabel: options.frameLabel, frameStart: options.frameStart)
        if interrupted {
            ExperimentRunner.log("\(options.name): interrupted, \(summary.done + summary.failed) of \(grid.cells.count) cells recorded in \(options.out); run again to resume")
        }
        return Outcome(summary: summary, ran: ran, skipped: skipped, interrupted: interrupted, plots: plots)
    }

    /// A line on stderr (starting a fresh line if a progress bar is being redrawn on a terminal).
    static func log(_ message: String) {
        let prefix = isatty(2) != 0 ? "\r\u{1B}[2K" : ""
        FileHandle.standardError.write(Data((prefix + message + "\n").utf8))
    }
}
