import Foundation

/// A lazily loaded tensor of a checkpoint: where its elements live in the mapped file and how to read them.
public struct TensorEntry: Sendable, Equatable {
    /// State-dict key.
    public let name: String
    /// Stored element type.
    public let dtype: CheckpointDType
    /// Logical shape.
    public let shape: [Int]
    /// Element strides into the storage (PyTorch views may be non-contiguous).
    public let strides: [Int]
    /// First element's index in the storage, in elements.
    public let storageOffset: Int
    /// Byte offset of the storage in the file.
    public let storageByteOffset: Int
    /// Byte length of the storage (shared by every view of it).
    public let storageByteCount: Int

    /// Creates an entry; `validate(in:path:)` checks it against the file before use.
    public init(name: String, dtype: CheckpointDType, shape: [Int], strides: [Int], storageOffset: Int,
                storageByteOffset: Int, storageByteCount: Int) {
        self.name = name; self.dtype = dtype; self.shape = shape; self.strides = strides
        self.storageOffset = storageOffset; self.storageByteOffset = storageByteOffset; self.storageByteCount = storageByteCount
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// True when the view is row-major contiguous (ignoring strides of size-1 dimensions).
    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }

    /// Checks that every element the view addresses lies inside its storage and the storage inside the file.
    public func validate(fileSize: Int, path: String) throws {
        func bad(_ reason: String) -> CheckpointError { .offsetOutOfRange(path: path, key: name, reason: reason) }
        guard shape.count == strides.count else {
            throw CheckpointError.malformedTensor(path: path, key: name, reason: "shape \(shape) and strides \(strides) differ in rank")
        }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw CheckpointError.malformedTensor(path: path, key: name, reason: "negative dimension in \(shape)") }
        guard strides.allSatisfy({ $0 >= 0 }), storageOffset >= 0 else { throw bad("negative stride or storage offset") }
        guard storageByteOffset >= 0, storageByteCount >= 0, storageByteOffset <= fileSize, storageByteCount <= fileSize - storageByteOffset else {
            throw bad("storage bytes \(storageByteOffset)..<\(storageByteOffset &+ storageByteCount) exceed the file size \(fileSize)")
        }
        var n = 1
        for s in shape {
            let (p, o) = n.multipliedReportingOverflow(by: s)
            guard !o else { throw bad("element count overflows") }
            n = p
        }
        guard n > 0, let size = dtype.itemSize else { return }
        var last = storageOffset
        for (s, st) in zip(shape, strides) {
            let (p, o1) = (s - 1).multipliedReportingOverflow(by: st)
            let (sum, o2) = last.addingReportingOverflow(p)
            guard !o1, !o2 else { throw bad("strides overflow") }
            last = sum
        }
        let (end, o) = (last + 1).multipliedReportingOverflow(by: size)
        guard !o, end <= storageByteCount else {
            throw bad("needs \(o ? Int.max : end) bytes of its storage (offset \(storageOffset), shape \(shape), strides \(strides)), storage has \(storageByteCount)")
        }
    }

    /// Reads the view from `file`, converting to Float32; the entry must have passed `validate`.
    public func materialize(from file: MappedFile) throws -> Tensor {
        switch dtype {
        case .float32: return gather(file, Float32Element.self)
        case .float16: return gather(file, Float16Element.self)
        case .bfloat16: return gather(file, BFloat16Element.self)
        case .float64: return gather(file, Float64Element.self)
        case .int64: return gather(file, Int64Element.self)
        case .int32: return gather(file, Int32Element.self)
        case .int16: return gather(file, Int16Element.self)
        case .int8: return gather(file, Int8Element.self)
        case .uint8, .bool: return gather(file, UInt8Element.self)
        case .other: throw CheckpointError.unsupportedDType(path: file.path, key: name, dtype: dtype.description)
        }
    }

    private func gather<E: StoredElement>(_ file: MappedFile, _: E.Type) -> Tensor {
        let n = count
        guard n > 0 else { return Tensor(shape: shape) }
        let rank = shape.count
        let inner = rank == 0 ? 1 : shape[rank - 1]
        let innerStride = rank == 0 ? 1 : strides[rank - 1]
        let rows = n / inner
        let shape = self.shape, strides = self.strides, offset = storageOffset
        let contiguousF32 = E.self == Float32Element.self && isContiguous
        return file.withBytes(offset: storageByteOffset, length: storageByteCount) { storage in
            Tensor(shape: shape) { out in
                // Kernel assumptions: `validate` proved every addressed element lies in `storage`; `out` has n slots.
                guard let src = storage.baseAddress, let dst = out.baseAddress else { return }
                if contiguousF32 {
                    Parallel.forChunks(n * 4, grain: 1 << 22) { r in
                        (UnsafeMutableRawPointer(dst) + r.lowerBound).copyMemory(from: src + offset * 4 + r.lowerBound, byteCount: r.count)
                    }
                    return
                }
                Parallel.forChunks(rows, grain: max(1, 32768 / max(1, inner))) { r in
                    for row in r {
                        var rem = row, base = offset
                        for d in stride(from: rank - 2, through: 0, by: -1) {
                            base += (rem % shape[d]) * strides[d]
                            rem /= shape[d]
                        }
                        let o = dst + row * inner
                        for j in 0..<inner { o[j] = E.load(src + (base + j * innerStride) * E.size) }
                    }
                }
            }
        }
    }
}

/// How one stored element decodes to Float32 (little-endian, as PyTorch and safetensors write on all our hosts).
private protocol StoredElement {
    static var size: Int { get }
    static func load(_ p: UnsafeRawPointer) -> Float
}

private enum Float32Element: StoredElement {
    static let size = 4
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))) }
}
private enum Float16Element: StoredElement {
    static let size = 2
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))) }
}
private enum BFloat16Element: StoredElement {
    static let size = 2
    // bfloat16 is the top half of a float32, so widening is exact.
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16) }
}
private enum Float64Element: StoredElement {
    static let size = 8
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))) }
}
private enum Int64Element: StoredElement {
    static let size = 8
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(Int64(littleEndian: p.loadUnaligned(as: Int64.self))) }
}
private enum Int32Element: StoredElement {
    static let size = 4
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(Int32(littleEndian: p.loadUnaligned(as: Int32.self))) }
}
private enum Int16Element: StoredElement {
    static let size = 2
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(Int16(littleEndian: p.loadUnaligned(as: Int16.self))) }
}
private enum Int8Element: StoredElement {
    static let size = 1
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(p.load(as: Int8.self)) }
}
private enum UInt8Element: StoredElement {
    static let size = 1
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> Float { Float(p.load(as: UInt8.self)) }
}
