import Foundation
import SAM2

/// One named axis of an ablation: a parameter and the values it takes (`vary = {num_maskmem = {1, 3, 7}}`).
public struct ExperimentAxis {
    /// Parameter name.
    public var name: String
    /// Values, in the order given.
    public var values: [LuaValue]
    /// A parameter and its values.
    public init(name: String, values: [LuaValue]) { self.name = name; self.values = values }
}

/// One labelled entry of a list (a data item, a prompt schedule, a parameter value): the value handed to the
/// cell and the short text that names it in keys, tables and plots.
public struct ExperimentEntry {
    /// The value (passed to `run` unchanged).
    public var value: LuaValue
    /// Its label.
    public var label: String
    /// An entry.
    public init(value: LuaValue, label: String) { self.value = value; self.label = label }
}

/// One cell of the grid: a variant (one value per axis) × a data item × a prompt schedule.
public struct ExperimentCell {
    /// Position in the grid (0-based, grid order).
    public var index: Int
    /// The variant's parameter values, in axis order.
    public var parameters: [(name: String, value: ExperimentEntry)]
    /// The data item.
    public var data: ExperimentEntry
    /// The prompt schedule (nil when the experiment has none).
    public var prompt: ExperimentEntry?
    /// The experiment seed the key was made with.
    public var experimentSeed: Int

    /// "name=value,name=value", or "default" for an experiment with nothing to vary.
    public var variantName: String {
        parameters.isEmpty ? "default" : parameters.map { "\($0.name)=\($0.value.label)" }.joined(separator: ",")
    }

    /// The condition a summary row averages over data items: the variant plus the prompt schedule.
    public var conditionName: String {
        guard let prompt else { return variantName }
        return parameters.isEmpty ? prompt.label : variantName + " | " + prompt.label
    }

    /// The identity of the cell across runs: variant, data item, prompt and experiment seed.
    public var key: String { "\(variantName) | \(data.label) | \(prompt?.label ?? "-") | seed=\(experimentSeed)" }

    /// The cell's own seed: a stable hash (FNV-1a, then SplitMix64's mix with the experiment seed) of
    /// variant, data item and prompt, in 0..<2³¹ so any RNG accepts it.
    public var seed: Int { ExperimentGrid.derivedSeed(experimentSeed, "\(variantName)|\(data.label)|\(prompt?.label ?? "-")") }
}

/// The cross product of variants × data items × prompt schedules, in a fixed order (variants outermost, then
/// data items, then prompts), so a re-run with the same inputs produces the same keys and seeds.
public struct ExperimentGrid {
    /// Axes, sorted by name (Lua tables have no key order).
    public let axes: [ExperimentAxis]
    /// Data items with their labels.
    public let data: [ExperimentEntry]
    /// Prompt schedules with their labels (empty: no prompt dimension).
    public let prompts: [ExperimentEntry]
    /// The experiment seed.
    public let seed: Int
    /// All cells in grid order.
    public let cells: [ExperimentCell]

    /// Builds the grid; an axis with no values is an error naming it.
    public init(axes: [ExperimentAxis], data: [LuaValue], prompts: [LuaValue], seed: Int) throws {
        let sortedAxes = axes.sorted { $0.name < $1.name }
        for a in sortedAxes where a.values.isEmpty {
            throw ExperimentError.invalid("vary.\(a.name): at least one value expected")
        }
        self.axes = sortedAxes
        self.data = ExperimentGrid.label(data, fallback: "item")
        self.prompts = ExperimentGrid.label(prompts, fallback: "prompt")
        self.seed = seed
        let axisEntries = sortedAxes.map { ExperimentGrid.label($0.values, fallback: "v") }
        var variants: [[(name: String, value: ExperimentEntry)]] = [[]]
        for (axis, entries) in zip(sortedAxes, axisEntries) {
            variants = variants.flatMap { v in entries.map { v + [(axis.name, $0)] } }
        }
        var cells: [ExperimentCell] = []
        let promptList: [ExperimentEntry?] = self.prompts.isEmpty ? [nil] : self.prompts
        for v in variants {
            for d in self.data {
                for p in promptList {
                    cells.append(ExperimentCell(index: cells.count, parameters: v, data: d, prompt: p, experimentSeed: seed))
                }
            }
        }
        self.cells = cells
    }

    /// Variant names in grid order.
    public var variantNames: [String] {
        var seen = Set<String>(), out: [String] = []
        for c in cells where seen.insert(c.variantName).inserted { out.append(c.variantName) }
        return out
    }

    /// Condition names (variant | prompt) in grid order.
    public var conditionNames: [String] {
        var seen = Set<String>(), out: [String] = []
        for c in cells where seen.insert(c.conditionName).inserted { out.append(c.conditionName) }
        return out
    }

    /// Labels for a list: strings (the last path component when it holds a '/'), numbers, booleans, tables
    /// with a string `name`; anything else is `<fallback><position>`. Duplicates get "#position" appended
    /// so every label is unique.
    public static func label(_ values: [LuaValue], fallback: String) -> [ExperimentEntry] {
        var labels = values.enumerated().map { i, v in label(v) ?? "\(fallback)\(i + 1)" }
        var counts: [String: Int] = [:]
        for l in labels { counts[l, default: 0] += 1 }
        for i in labels.indices where counts[labels[i]]! > 1 { labels[i] += "#\(i + 1)" }
        return zip(values, labels).map { ExperimentEntry(value: $0, label: $1) }
    }

    /// The label of one value, nil when it has none of its own.
    static func label(_ v: LuaValue) -> String? {
        switch v {
        case let .string(s):
            let trimmed = s.hasSuffix("/") ? String(s.dropLast()) : s
            return trimmed.contains("/") ? URL(fileURLWithPath: trimmed).lastPathComponent : s
        case let .int(i): return String(i)
        case let .number(d): return ExperimentGrid.format(d)
        case let .bool(b): return b ? "true" : "false"
        case let .table(t):
            if case let .string(name) = t["name"] { return name }
            return nil
        default: return nil
        }
    }

    /// A number as Lua's `%.14g` prints it, so 0.1 stays "0.1".
    static func format(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        return String(format: "%.14g", d)
    }

    /// The stable per-cell seed (see `ExperimentCell.seed`).
    public static func derivedSeed(_ seed: Int, _ text: String) -> Int {
        let h = SplitMix64.fnv1a(text)
        return Int(SplitMix64.mix(h ^ SplitMix64.mix(UInt64(bitPattern: Int64(seed)))) & 0x7FFF_FFFF)
    }

    /// The items of a dataset folder: for a DAVIS / synth layout (JPEGImages/<res>/<seq>), one table per
    /// sequence `{name, frames, annotations}`; otherwise the folder's entries (sorted, hidden ones skipped) as paths.
    public static func items(ofFolder root: String) throws -> [LuaValue] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw ExperimentError.invalid("data: folder \(root) not found")
        }
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        func listing(_ path: String) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        for resolution in ["480p", "Full-Resolution", ""] {
            let frames = base + "/JPEGImages" + (resolution.isEmpty ? "" : "/" + resolution)
            let sequences = listing(frames).filter {
                var d: ObjCBool = false
                return fm.fileExists(atPath: frames + "/" + $0, isDirectory: &d) && d.boolValue
            }
            guard !sequences.isEmpty else { continue }
            let annotations = base + "/Annotations" + (resolution.isEmpty ? "" : "/" + resolution)
            return sequences.map { s in
                .record([("name", .string(s)), ("frames", .string(frames + "/" + s)), ("annotations", .string(annotations + "/" + s))])
            }
        }
        let entries = listing(base)
        guard !entries.isEmpty else { throw ExperimentError.invalid("data: folder \(root) is empty") }
        return entries.map { .string(base + "/" + $0) }
    }
}

/// Errors of the experiment runner (bad specification, unwritable output); messages name the key or file.
public enum ExperimentError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalid(m): return "experiment: " + m
        case let .unwritable(path, reason): return "experiment: cannot write \(path): \(reason)"
        }
    }
}
