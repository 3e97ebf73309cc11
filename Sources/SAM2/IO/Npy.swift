import Foundation

/// Errors reading or writing NumPy .npy files; each names the file.
public enum NpyError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDtype(path: String, dtype: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, reason): return "\(path): not a valid .npy file: \(reason)"
        case let .unsupportedDtype(path, dtype): return "\(path): unsupported .npy dtype \(dtype) (expected <f4, <f8, <i4, <i8, |u1 or |b1)"
        }
    }
}

/// NumPy .npy format (version 1.0/2.0): float32 writer for debugging and comparisons, reader for fixtures.
public enum Npy {
    /// Serialises a tensor as little-endian float32 .npy bytes.
    public static func encode(_ tensor: Tensor) -> Data {
        let shapeText = tensor.shape.isEmpty ? "()" : tensor.shape.count == 1 ? "(\(tensor.shape[0]),)"
            : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        // Magic (6) + version (2) + length (2) + header + newline must be a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let len = UInt16(header.utf8.count)
        out.append(contentsOf: [UInt8(len & 0xFF), UInt8(len >> 8)])
        out.append(contentsOf: Array(header.utf8))
        tensor.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: UInt8.self) { bytes in out.append(contentsOf: bytes) }
        }
        return out
    }

    /// Writes a tensor to `path` as float32 .npy.
    public static func write(_ tensor: Tensor, to path: String) throws {
        do { try encode(tensor).write(to: URL(fileURLWithPath: path)) }
        catch { throw NpyError.unreadable(path: path, reason: "cannot write: \(error.localizedDescription)") }
    }

    /// Reads a .npy file (float32/float64/int32/int64/uint8/bool, C order) into a Float32 tensor.
    public static func read(_ path: String) throws -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) }
        catch { throw NpyError.unreadable(path: path, reason: error.localizedDescription) }
        return try decode(data, path: path)
    }

    /// Parses .npy bytes; `path` is only used in error messages.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> Tensor {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[1...5].elementsEqual(Array("NUMPY".utf8)) else {
            throw NpyError.malformed(path: path, reason: "missing \\x93NUMPY magic")
        }
        let major = bytes[6]
        let headerLen: Int, headerStart: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        } else if major == 2 || major == 3 {
            guard bytes.count >= 12 else { throw NpyError.malformed(path: path, reason: "truncated header") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; headerStart = 12
        } else {
            throw NpyError.malformed(path: path, reason: "unknown format version \(major)")
        }
        guard data.count >= headerStart + headerLen,
              let header = String(data: data.subdata(in: data.startIndex + headerStart ..< data.startIndex + headerStart + headerLen), encoding: .ascii) else {
            throw NpyError.malformed(path: path, reason: "truncated header")
        }
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'") else {
            throw NpyError.malformed(path: path, reason: "header has no 'descr'")
        }
        let descr = String(descrField[descrField.index(after: q1)..<q2])
        if let fo = field("fortran_order"), fo.hasPrefix("True") {
            throw NpyError.malformed(path: path, reason: "Fortran-ordered arrays are not supported")
        }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else {
            throw NpyError.malformed(path: path, reason: "header has no 'shape'")
        }
        var shape: [Int] = []
        for part in shapeField[shapeField.index(after: open)..<close].split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { throw NpyError.malformed(path: path, reason: "bad shape entry '\(t)'") }
            shape.append(v)
        }
        let n = shape.reduce(1, *)
        let itemSize: Int
        switch descr {
        case "<f4", "<i4": itemSize = 4
        case "<f8", "<i8": itemSize = 8
        case "|u1", "|b1": itemSize = 1
        default: throw NpyError.unsupportedDtype(path: path, dtype: descr)
        }
        let start = headerStart + headerLen
        guard data.count - start >= n * itemSize else {
            throw NpyError.malformed(path: path, reason: "expected \(n * itemSize) data bytes, found \(data.count - start)")
        }
        return data.withUnsafeBytes { raw -> Tensor in
            let base = raw.baseAddress! + start
            return Tensor(shape: shape) { out in
                for i in 0..<n {
                    switch descr {
                    case "<f4": out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    case "<i4": out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                    case "<f8": out[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                    case "<i8": out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
                    default: out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self))
                    }
                }
            }
        }
    }
}
