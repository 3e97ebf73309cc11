import Foundation

/// Per-frame J and F of one object and their DAVIS statistics.
public struct ObjectEvaluation: Codable, Sendable {
    /// Sequence the object belongs to.
    public var sequence: String
    /// Object key: its id in a palette layout, its folder name in the per-object layout.
    public var object: String
    /// `<sequence>_<object>`, the toolkit's row name.
    public var name: String { "\(sequence)_\(object)" }
    /// Evaluated frame names (file stems), in order.
    public var frames: [String]
    /// J per evaluated frame.
    public var j: [Double]
    /// F per evaluated frame.
    public var f: [Double]
    /// Statistics of `j`.
    public var jStatistics: MetricStatistics
    /// Statistics of `f`.
    public var fStatistics: MetricStatistics
    /// (J-Mean + F-Mean) / 2.
    public var jAndF: Double { (jStatistics.mean + fStatistics.mean) / 2 }
}

/// One sequence's objects and their averages.
public struct SequenceEvaluation: Codable, Sendable {
    /// Sequence name (folder name).
    public var name: String
    /// Its objects, in id (or folder) order.
    public var objects: [ObjectEvaluation]
    /// Mean J-Mean over the objects.
    public var jMean: Double { averaged(objects.map { $0.jStatistics.mean }) }
    /// Mean F-Mean over the objects.
    public var fMean: Double { averaged(objects.map { $0.fStatistics.mean }) }
    /// (J-Mean + F-Mean) / 2.
    public var jAndF: Double { (jMean + fMean) / 2 }
}

/// The DAVIS global line: every statistic averaged over all objects of all sequences (as the toolkit does).
public struct GlobalMetrics: Codable, Sendable, Equatable {
    public var jAndFMean: Double
    public var jMean: Double, jRecall: Double, jDecay: Double
    public var fMean: Double, fRecall: Double, fDecay: Double

    /// Averages over `objects` (NaN when there are none).
    public init(objects: [ObjectEvaluation]) {
        jMean = averaged(objects.map { $0.jStatistics.mean })
        jRecall = averaged(objects.map { $0.jStatistics.recall })
        jDecay = averaged(objects.map { $0.jStatistics.decay })
        fMean = averaged(objects.map { $0.fStatistics.mean })
        fRecall = averaged(objects.map { $0.fStatistics.recall })
        fDecay = averaged(objects.map { $0.fStatistics.decay })
        jAndFMean = (jMean + fMean) / 2
    }

    /// Names and values in the toolkit's column order.
    public var columns: [(String, Double)] {
        [("J&F-Mean", jAndFMean), ("J-Mean", jMean), ("J-Recall", jRecall), ("J-Decay", jDecay),
         ("F-Mean", fMean), ("F-Recall", fRecall), ("F-Decay", fDecay)]
    }
}

/// Everything one evaluation produced.
public struct EvaluationResult: Codable, Sendable {
    /// Sequences in evaluation order.
    public var sequences: [SequenceEvaluation]
    /// The global line.
    public var global: GlobalMetrics
    /// Prediction files that did not exist (scored as empty masks).
    public var missingPredictions: [String]
    /// Number of (ground truth, prediction) frame pairs read.
    public var framePairs: Int

    /// All objects, sequence by sequence.
    public var objects: [ObjectEvaluation] { sequences.flatMap(\.objects) }

    /// JSON with the global line, per-sequence and per-object statistics and the per-frame values; `intervals`
    /// (e.g. the J&F-Mean's bootstrap interval) are added under "bootstrap" by name.
    public func jsonData(intervals: [String: BootstrapInterval] = [:]) throws -> Data {
        func num(_ v: Double) -> Any { v.isNaN ? NSNull() : v }
        func stats(_ s: MetricStatistics) -> [String: Any] {
            ["mean": num(s.mean), "recall": num(s.recall), "decay": num(s.decay)]
        }
        var g: [String: Any] = [:]
        for (k, v) in global.columns { g[k] = num(v) }
        let seqs: [[String: Any]] = sequences.map { s in
            ["name": s.name, "J&F": num(s.jAndF), "J-Mean": num(s.jMean), "F-Mean": num(s.fMean),
             "objects": s.objects.map { o -> [String: Any] in
                 ["object": o.object, "name": o.name, "J&F": num(o.jAndF),
                  "J": stats(o.jStatistics), "F": stats(o.fStatistics),
                  "frames": o.frames, "J_per_frame": o.j.map(num), "F_per_frame": o.f.map(num)]
             }]
        }
        var root: [String: Any] = ["global": g, "sequences": seqs, "missing_predictions": missingPredictions,
                                   "frame_pairs": framePairs]
        if !intervals.isEmpty {
            root["bootstrap"] = intervals.mapValues { i -> [String: Any] in
                ["estimate": num(i.estimate), "lower": num(i.lower), "upper": num(i.upper), "level": i.level,
                 "standard_error": num(i.standardError), "resamples": i.resamples, "sequences": i.sequences]
            }
        }
        return try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
    }

    /// CSV, one row per object (the toolkit's per-sequence table) plus a final `global` row.
    public var csv: String {
        func f(_ v: Double) -> String { v.isNaN ? "nan" : String(format: "%.6f", v) }
        var lines = ["sequence,object,J&F,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"]
        for o in objects {
            let (j, fs) = (o.jStatistics, o.fStatistics)
            let name = o.sequence.contains(",") ? "\"\(o.sequence)\"" : o.sequence
            lines.append([name, o.object, f(o.jAndF), f(j.mean), f(j.recall), f(j.decay),
                          f(fs.mean), f(fs.recall), f(fs.decay)].joined(separator: ","))
        }
        lines.append((["global", ""] + global.columns.map { f($0.1) }).joined(separator: ","))
        return lines.joined(separator: "\n") + "\n"
    }
}

/// np.mean: NaN propagates, no values → NaN.
private func averaged(_ values: [Double]) -> Double {
    values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
}
