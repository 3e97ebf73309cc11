import Foundation

/// Hugging Face safetensors: an 8-byte little-endian header length, a JSON header, then raw little-endian data.
public enum SafeTensors {
    /// Largest header we accept; the reference implementation refuses headers above 100 MB too.
    static let maxHeaderBytes = 100_000_000

    /// Reads a .safetensors file lazily (tensors are converted to Float32 on `tensor(named:)`).
    public static func read(_ path: String) throws -> Checkpoint { try read(try MappedFile(path: path)) }

    /// True if the file starts with a plausible header length followed by `{`.
    static func looksLikeSafeTensors(_ file: MappedFile) -> Bool {
        guard let n = file.readUInt(offset: 0, size: 8), n >= 2, n <= UInt64(maxHeaderBytes), Int(n) <= file.count - 8 else { return false }
        return file.readUInt(offset: 8, size: 1) == UInt64(UInt8(ascii: "{"))
    }

    /// Reads from an already mapped file.
    public static func read(_ file: MappedFile) throws -> Checkpoint {
        let path = file.path
        func bad(_ reason: String) -> CheckpointError { .badHeader(path: path, reason: reason) }
        guard let n64 = file.readUInt(offset: 0, size: 8) else {
            throw CheckpointError.truncated(path: path, reason: "\(file.count) bytes, shorter than the 8-byte header length")
        }
        guard n64 <= UInt64(maxHeaderBytes) else { throw bad("header length \(n64) is implausibly large") }
        let n = Int(n64)
        guard let headerBytes = file.bytes(offset: 8, length: n) else {
            throw CheckpointError.truncated(path: path, reason: "header of \(n) bytes runs past the end (file is \(file.count) bytes)")
        }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(headerBytes)) }
        catch { throw bad("header is not valid JSON (\(error.localizedDescription))") }
        guard let header = json as? [String: Any] else { throw bad("header is not a JSON object") }

        let dataStart = 8 + n
        let dataCount = file.count - dataStart
        var metadata: [String: String] = [:]
        var found: [(begin: Int, entry: TensorEntry)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw bad("__metadata__[\(k)] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offsAny = info["data_offsets"] as? [Any] else {
                throw bad("entry '\(key)' needs dtype (string), shape (array) and data_offsets (array)")
            }
            let shape = try shapeAny.map { v -> Int in
                guard let i = jsonInt(v), i >= 0 else { throw bad("entry '\(key)' has a bad shape \(shapeAny)") }
                return i
            }
            let offs = offsAny.compactMap(jsonInt)
            guard offs.count == 2, offsAny.count == 2, offs[0] >= 0, offs[0] <= offs[1] else {
                throw bad("entry '\(key)' has bad data_offsets \(offsAny)")
            }
            let dtype = CheckpointDType(safetensorsName: dtypeName)
            guard offs[1] <= dataCount else {
                throw CheckpointError.offsetOutOfRange(path: path, key: key, reason: "data_offsets \(offs) exceed the \(dataCount) data bytes")
            }
            if let size = dtype.itemSize {
                var need = size, overflow = false
                for d in shape where !overflow { (need, overflow) = need.multipliedReportingOverflow(by: d) }
                guard !overflow, need == offs[1] - offs[0] else {
                    throw CheckpointError.offsetOutOfRange(path: path, key: key, reason: "data_offsets \(offs) hold \(offs[1] - offs[0]) bytes, \(dtypeName) \(shape) needs \(need)")
                }
            }
            found.append((offs[0], TensorEntry(name: key, dtype: dtype, shape: shape, strides: Tensor.strides(of: shape),
                                              storageOffset: 0, storageByteOffset: dataStart + offs[0],
                                              storageByteCount: offs[1] - offs[0])))
        }
        found.sort { ($0.begin, $0.entry.name) < ($1.begin, $1.entry.name) }
        return try Checkpoint(path: path, format: .safetensors, file: file, entries: found.map(\.entry), metadata: metadata)
    }

    /// Serialises tensors as F32 safetensors: keys sorted, data in key order, header padded to 8 bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        let names = tensors.keys.sorted()
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * 4
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(parts.joined(separator: ","))}".utf8)
        // The format asks for the data section to start 8-byte aligned; spaces are valid JSON padding.
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { buf in
                if (1 as UInt32).littleEndian == 1 {
                    out.append(UnsafeBufferPointer(start: buf.baseAddress, count: buf.count))
                } else {
                    for v in buf { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
                }
            }
        }
        return out
    }

    /// Writes tensors to `path` as F32 safetensors (see `encode`).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        do { try encode(tensors, metadata: metadata).write(to: URL(fileURLWithPath: path)) }
        catch { throw CheckpointError.writeFailed(path: path, reason: error.localizedDescription) }
    }

    private static func jsonInt(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        return nil
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
