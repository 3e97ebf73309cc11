import Foundation

/// Errors from tensor shape checks; they name the operation and the shapes involved.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(op: String, expected: String, got: String)
    case invalidArgument(op: String, message: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, expected, got): return "\(op): shape mismatch: expected \(expected), got \(got)"
        case let .invalidArgument(op, message): return "\(op): \(message)"
        }
    }
}

/// A dense, row-major (contiguous) Float32 tensor with value semantics; storage is copy-on-write.
public struct Tensor: @unchecked Sendable {
    /// Sizes of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// Elements in row-major order; Swift arrays give copy-on-write for free.
    public var data: [Float]

    /// Creates a tensor from its shape and row-major elements (counts must agree).
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor filled with one value.
    public init(shape: [Int], repeating value: Float = 0) {
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor whose elements are written by `body` before first use (no zero fill for large outputs).
    public init(shape: [Int], uninitialized body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.data = try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try body(buf)
            count = n
        }
    }

    /// A scalar (0-d) tensor.
    public init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }

    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// Total number of elements.
    @inlinable public var count: Int { data.count }

    /// Row-major strides of `shape`, in elements.
    public static func strides(of shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Row-major strides of this tensor.
    public var strides: [Int] { Tensor.strides(of: shape) }

    /// Resolves a possibly negative dimension index.
    @inlinable public func axis(_ d: Int) -> Int { d < 0 ? d + shape.count : d }

    /// Element access by multi-index (slow; for tests and small bookkeeping).
    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var off = 0
        for (i, s) in zip(index, shape) { precondition(i >= 0 && i < s, "index \(index) out of range for \(shape)"); off = off * s + i }
        return off
    }

    /// Same elements, new shape; one dimension may be -1 and is inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let inf = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != inf }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[inf] = count / known
        }
        precondition(s.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = s
        return t
    }

    /// Reinterprets the shape in place (element count must be unchanged).
    public mutating func reshape(_ newShape: [Int]) { self = reshaped(newShape) }

    /// Read-only access to the contiguous elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer(body)
    }

    /// Mutable access to the contiguous elements (triggers the copy if storage is shared).
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Largest absolute elementwise difference to another tensor of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "maxAbsDifference: \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = Swift.max(m, abs(data[i] - other.data[i])) }
        return m
    }
}
