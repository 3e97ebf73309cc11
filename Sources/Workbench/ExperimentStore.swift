import Foundation

/// The output folder of an experiment: results.jsonl (the record of truth, one line per finished cell,
/// appended and fsync'ed as each cell completes) and results.csv (the same rows as a table, appended too;
/// rewritten whole when a new column appears). Loading it tells a re-run which cells are already done.
public final class ExperimentStore {
    /// CSV columns.
    enum Column: Equatable {
        case key, parameter(String), data, prompt, seed, status, seconds, metric(String), value(String), error

        var title: String {
            switch self {
            case .key: return "key"
            case let .parameter(p): return p
            case .data: return "data"
            case .prompt: return "prompt"
            case .seed: return "seed"
            case .status: return "status"
            case .seconds: return "seconds"
            case let .metric(m): return m
            case let .value(v): return v
            case .error: return "error"
            }
        }
    }

    /// The folder.
    public let folder: String
    /// results.jsonl
    public var jsonlPath: String { folder + "/results.jsonl" }
    /// results.csv
    public var csvPath: String { folder + "/results.csv" }
    /// Latest record per key, from earlier runs and this one.
    public private(set) var records: [String: ExperimentRecord] = [:]
    private let parameterNames: [String]
    private let hasPrompts: Bool
    private var csvColumns: [Column] = []
    /// The keys of the cells the CSV lists (cells of the current grid).
    private var csvKeys: [String] = []

    /// Opens (creating) `folder` and reads the records a previous run left; a last line cut short by a crash is
    /// skipped and the file is ended with a newline so new lines start clean.
    public init(folder: String, parameterNames: [String], hasPrompts: Bool) throws {
        self.folder = folder; self.parameterNames = parameterNames; self.hasPrompts = hasPrompts
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        catch { throw ExperimentError.unwritable(path: folder, reason: error.localizedDescription) }
        if let data = FileManager.default.contents(atPath: jsonlPath), !data.isEmpty {
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(whereSeparator: \.isNewline) {
                if let r = ExperimentRecord(jsonLine: line) { records[r.key] = r }
            }
            if data.last != UInt8(ascii: "\n") { try append("\n", to: jsonlPath) }
        }
    }

    /// Rewrites results.csv with the records of `keys` (the current grid, in grid order) that exist.
    public func rewriteCSV(keys: [String]) throws {
        csvKeys = keys.filter { records[$0] != nil }
        let rows = csvKeys.compactMap { records[$0] }
        csvColumns = columns(for: rows)
        let text = ([csvColumns.map { CSV.escape($0.title) }.joined(separator: ",")] + rows.map { $0.csvRow(csvColumns) })
            .joined(separator: "\n") + "\n"
        try ExperimentStore.writeAtomically(text, to: csvPath)
    }

    /// Records a finished cell: one line appended (and fsync'ed) to results.jsonl and to results.csv.
    public func add(_ record: ExperimentRecord) throws {
        records[record.key] = record
        try append(try record.jsonLine() + "\n", to: jsonlPath)
        let needed = columns(for: [record])
        let replaces = csvKeys.contains(record.key)
        if replaces || !needed.allSatisfy(csvColumns.contains) {
            if !replaces { csvKeys.append(record.key) }
            try rewriteCSV(keys: csvKeys)
        } else {
            csvKeys.append(record.key)
            try append(record.csvRow(csvColumns) + "\n", to: csvPath)
        }
    }

    private func columns(for rows: [ExperimentRecord]) -> [Column] {
        var metrics = Set<String>(), values = Set<String>()
        for r in rows + csvKeys.compactMap({ records[$0] }) {
            metrics.formUnion(r.metrics.keys); values.formUnion(r.values.keys)
        }
        let reserved = Set(["key", "data", "prompt", "seed", "status", "seconds", "error"] + parameterNames)
        return [.key] + parameterNames.map { .parameter($0) } + [.data] + (hasPrompts ? [.prompt] : []) + [.seed, .status, .seconds]
            + metrics.subtracting(reserved).sorted().map { .metric($0) }
            + values.subtracting(reserved).subtracting(metrics).sorted().map { .value($0) } + [.error]
    }

    /// Appends `text` with O_APPEND and fsyncs, so a finished cell survives a crash or Ctrl-C right after.
    func append(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw ExperimentError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw ExperimentError.unwritable(path: path, reason: String(cString: strerror(errno))) }
            written += n
        }
        _ = fsync(fd)
    }

    /// Writes a whole file through a temporary sibling and a rename, so readers never see half a file.
    static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Data(text.utf8), to: path)
    }

    static func writeAtomically(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw ExperimentError.unwritable(path: path, reason: error.localizedDescription) }
    }
}
