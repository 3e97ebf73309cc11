import Foundation

/// The outcome of one cell as stored in results.jsonl / results.csv: its identity, status, time, numeric
/// metrics, other scalar values and per-frame series.
public struct ExperimentRecord: Equatable {
    /// The cell key (`ExperimentCell.key`).
    public var key: String
    /// Parameter name → value label, in axis order.
    public var parameters: [String: String]
    /// Variant name ("a=1,b=2").
    public var variant: String
    /// Data item label.
    public var data: String
    /// Prompt label ("" when the experiment has no prompts).
    public var prompt: String
    /// The cell's seed.
    public var seed: Int
    /// True when `run` returned normally.
    public var ok: Bool
    /// The error message of a failed cell.
    public var error: String?
    /// Wall time of the cell in seconds.
    public var seconds: Double
    /// Numeric fields the cell returned.
    public var metrics: [String: Double]
    /// String and boolean fields the cell returned (booleans as "true"/"false").
    public var values: [String: String]
    /// `per_frame` series the cell returned.
    public var perFrame: [String: [Double]]

    /// A record.
    public init(key: String, parameters: [String: String], variant: String, data: String, prompt: String, seed: Int,
                ok: Bool, error: String? = nil, seconds: Double, metrics: [String: Double] = [:],
                values: [String: String] = [:], perFrame: [String: [Double]] = [:]) {
        self.key = key; self.parameters = parameters; self.variant = variant; self.data = data; self.prompt = prompt
        self.seed = seed; self.ok = ok; self.error = error; self.seconds = seconds; self.metrics = metrics
        self.values = values; self.perFrame = perFrame
    }

    /// The condition name (variant | prompt) summaries group by.
    public var condition: String {
        if prompt.isEmpty { return variant }
        return parameters.isEmpty ? prompt : variant + " | " + prompt
    }

    /// JSON object (NaN and infinities as null).
    public var json: [String: Any] {
        func number(_ d: Double) -> Any { d.isFinite ? d : NSNull() }
        var o: [String: Any] = [
            "key": key, "parameters": parameters, "variant": variant, "data": data, "prompt": prompt, "seed": seed,
            "status": ok ? "ok" : "error", "seconds": number(seconds),
            "metrics": metrics.mapValues(number), "values": values,
            "per_frame": perFrame.mapValues { $0.map(number) },
        ]
        if let error { o["error"] = error }
        return o
    }

    /// One line of results.jsonl (sorted keys, so files diff cleanly).
    public func jsonLine() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses one results.jsonl line; nil for a line that is not a record (e.g. cut short by a crash).
    public init?(jsonLine line: Substring) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let key = object["key"] as? String, let status = object["status"] as? String else { return nil }
        func double(_ v: Any?) -> Double { (v as? NSNumber)?.doubleValue ?? .nan }
        self.key = key
        parameters = object["parameters"] as? [String: String] ?? [:]
        variant = object["variant"] as? String ?? ""
        data = object["data"] as? String ?? ""
        prompt = object["prompt"] as? String ?? ""
        seed = (object["seed"] as? NSNumber)?.intValue ?? 0
        ok = status == "ok"
        error = object["error"] as? String
        seconds = double(object["seconds"])
        metrics = (object["metrics"] as? [String: Any] ?? [:]).mapValues(double)
        values = object["values"] as? [String: String] ?? [:]
        perFrame = (object["per_frame"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? [Any])?.map(double) }
    }

    /// The CSV row for `columns` (see `ExperimentStore.csvColumns`).
    func csvRow(_ columns: [ExperimentStore.Column]) -> String {
        columns.map { column -> String in
            switch column {
            case .key: return CSV.escape(key)
            case let .parameter(p): return CSV.escape(parameters[p] ?? "")
            case .data: return CSV.escape(data)
            case .prompt: return CSV.escape(prompt)
            case .seed: return String(seed)
            case .status: return ok ? "ok" : "error"
            case .seconds: return String(format: "%.3f", seconds)
            case let .metric(m): return metrics[m].map(CSV.number) ?? ""
            case let .value(v): return CSV.escape(values[v] ?? "")
            case .error: return CSV.escape(error ?? "")
            }
        }.joined(separator: ",")
    }
}

/// RFC 4180 quoting.
enum CSV {
    static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func number(_ d: Double) -> String { d.isNaN ? "nan" : String(format: "%.10g", d) }
}
