import Foundation

// MARK: - Operation tags

// Each op is a type so the generic kernels below are specialised per op (a closure through
// Parallel.forChunks would not be inlined into the inner loop).

/// A binary elementwise operation used by the broadcasting kernel.
public protocol ElementwiseBinaryOp { static func apply(_ a: Float, _ b: Float) -> Float }
/// A unary elementwise operation used by the map kernel.
public protocol ElementwiseUnaryOp { static func apply(_ x: Float) -> Float }

@usableFromInline enum AddOp: ElementwiseBinaryOp { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
@usableFromInline enum SubOp: ElementwiseBinaryOp { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
@usableFromInline enum MulOp: ElementwiseBinaryOp { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
@usableFromInline enum DivOp: ElementwiseBinaryOp { @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
// torch.maximum / torch.minimum propagate NaN.
@usableFromInline enum MaximumOp: ElementwiseBinaryOp {
    @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || a > b ? a : b }
}
@usableFromInline enum MinimumOp: ElementwiseBinaryOp {
    @inlinable @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || a < b ? a : b }
}


private enum ReluOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { x > 0 ? x : (x.isNaN ? x : 0) } }
private enum SigmoidOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { 1 / (1 + FastMath.exp(-x)) } }
private enum TanhOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { tanhf(x) } }
private enum ExpOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { FastMath.exp(x) } }
private enum SqrtOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { x.squareRoot() } }
private enum NegOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { -x } }
private enum AbsOp: ElementwiseUnaryOp { @inline(__always) static func apply(_ x: Float) -> Float { Swift.abs(x) } }
// torch's default GELU: x·Φ(x) = x/2·(1 + erf(x/√2)), with FastMath's rational erf (abs error ~4e-7, as the
// Hiera MLP uses): it vectorises, where a libm erff call per element cost the memory encoder ~1/4 of its time.
// (Abramowitz–Stegun 7.1.26, also vectorisable, misses torch by up to 1e-6 near x ≈ −3, where 1 + erf is tiny.)
private enum GeluOp: ElementwiseUnaryOp {
    @inline(__always) static func apply(_ x: Float) -> Float { FastMath.gelu(x) }
}
// GELU(approximate='tanh'): x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
private enum GeluTanhOp: ElementwiseUnaryOp {
    @inline(__always) static func apply(_ x: Float) -> Float {
        0.5 * x * (1 + tanhf(0.79788456080286535588 * (x + 0.044715 * x * x * x)))
    }
}

// MARK: - Broadcasting

extension Tensor {
    /// PyTorch broadcast of two shapes (trailing dimensions aligned; sizes equal or one of them 1), or nil.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of a contiguous `shape` read as if broadcast to `target` (0 on broadcast dimensions).
    @usableFromInline
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = Tensor.strides(of: shape)
        let lead = target.count - shape.count
        return (0..<target.count).map { i in
            i < lead || (shape[i - lead] == 1 && target[i] != 1) ? 0 : own[i - lead]
        }
    }

    /// Drops size-1 dimensions and merges neighbours that both operands walk in the same way, so that a
    /// bias over the last dimension or a per-channel [C,1,1] operand becomes a 2- or 3-d loop with a long
    /// inner run. Returns the merged sizes and the strides of each operand.
    @usableFromInline
    static func coalesce(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var dims: [Int] = []
        var st: [[Int]] = Array(repeating: [], count: strides.count)
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.last,
               strides.indices.allSatisfy({ k in st[k].last! == strides[k][i] * shape[i] }) {
                // Outer dimension is exactly the inner one repeated: merge (also holds for 0/0 strides).
                dims[dims.count - 1] = last * shape[i]
                for k in strides.indices { st[k][st[k].count - 1] = strides[k][i] }
            } else {
                dims.append(shape[i])
                for k in strides.indices { st[k].append(strides[k][i]) }
            }
        }
        return (dims, st)
    }

    /// out = Op(a, b) with broadcasting. `out` may alias `a` when `a` already has the output shape.
    /// Assumes `a`, `b`, `out` hold the elements implied by their shapes.
    @usableFromInline
    static func broadcastKernel<Op: ElementwiseBinaryOp>(_: Op.Type, a: UnsafePointer<Float>, aShape: [Int],
                                                          b: UnsafePointer<Float>, bShape: [Int],
                                                          out: UnsafeMutablePointer<Float>, outShape: [Int]) {
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        if aShape == bShape {
            Parallel.forChunks(total, grain: 16384) { r in
                for i in r { out[i] = Op.apply(a[i], b[i]) }
            }
            return
        }
        let (dims, st) = coalesce(outShape, [broadcastStrides(aShape, to: outShape), broadcastStrides(bShape, to: outShape)])
        if dims.isEmpty { out[0] = Op.apply(a[0], b[0]); return }
        let inner = dims[dims.count - 1]
        let sa = st[0][dims.count - 1], sb = st[1][dims.count - 1]
        let outer = Array(dims.dropLast())
        let aOuter = Array(st[0].dropLast()), bOuter = Array(st[1].dropLast())
        let rows = total / inner
        Parallel.forChunks(rows, grain: Swift.max(1, 16384 / inner)) { range in
            for row in range {
                var rem = row, offA = 0, offB = 0
                for d in stride(from: outer.count - 1, through: 0, by: -1) {
                    let i = rem % outer[d]
                    rem /= outer[d]
                    offA += i * aOuter[d]
                    offB += i * bOuter[d]
                }
                let pa = a + offA, pb = b + offB, po = out + row * inner
                if sa != 0 && sb != 0 {
                    for j in 0..<inner { po[j] = Op.apply(pa[j], pb[j]) }
                } else if sa != 0 {
                    let v = pb[0]
                    for j in 0..<inner { po[j] = Op.apply(pa[j], v) }
                } else if sb != 0 {
                    let v = pa[0]
                    for j in 0..<inner { po[j] = Op.apply(v, pb[j]) }
                } else {
                    let v = Op.apply(pa[0], pb[0])
                    for j in 0..<inner { po[j] = v }
                }
            }
        }
    }

    /// Applies a binary op with PyTorch broadcasting, returning a new tensor.
    @inlinable
    public static func broadcasting<Op: ElementwiseBinaryOp>(_ op: Op.Type, _ a: Tensor, _ b: Tensor, name: String) -> Tensor {
        guard let outShape = broadcastShape(a.shape, b.shape) else {
            preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        return Tensor(shape: outShape) { out in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    broadcastKernel(op, a: pa.baseAddress!, aShape: a.shape, b: pb.baseAddress!, bShape: b.shape,
                                    out: out.baseAddress!, outShape: outShape)
                }
            }
        }
    }

    /// In place a = Op(a, b); `b` must broadcast to `a`'s shape (PyTorch in-place rule).
    @inlinable
    public static func broadcastingInPlace<Op: ElementwiseBinaryOp>(_ op: Op.Type, _ a: inout Tensor, _ b: Tensor, name: String) {
        precondition(broadcastShape(a.shape, b.shape) == a.shape,
                     "\(name): shape \(b.shape) does not broadcast to \(a.shape)")
        let shape = a.shape
        if shape.reduce(1, *) == 0 { return }
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                broadcastKernel(op, a: UnsafePointer(pa.baseAddress!), aShape: shape, b: pb.baseAddress!, bShape: b.shape,
                                out: pa.baseAddress!, outShape: shape)
            }
        }
    }

    /// Elementwise sum with broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { broadcasting(AddOp.self, lhs, rhs, name: "add") }
    /// Elementwise difference with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { broadcasting(SubOp.self, lhs, rhs, name: "sub") }
    /// Elementwise product with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { broadcasting(MulOp.self, lhs, rhs, name: "mul") }
    /// Elementwise quotient with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { broadcasting(DivOp.self, lhs, rhs, name: "div") }

    /// Tensor plus scalar.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor { broadcasting(AddOp.self, lhs, Tensor(scalar: rhs), name: "add") }
    /// Tensor minus scalar.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { broadcasting(SubOp.self, lhs, Tensor(scalar: rhs), name: "sub") }
    /// Tensor times scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { broadcasting(MulOp.self, lhs, Tensor(scalar: rhs), name: "mul") }
    /// Tensor divided by scalar (true division, as torch: not multiplication by the reciprocal).
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { broadcasting(DivOp.self, lhs, Tensor(scalar: rhs), name: "div") }
    /// Scalar plus tensor.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { broadcasting(AddOp.self, Tensor(scalar: lhs), rhs, name: "add") }
    /// Scalar minus tensor.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { broadcasting(SubOp.self, Tensor(scalar: lhs), rhs, name: "sub") }
    /// Scalar times tensor.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { broadcasting(MulOp.self, Tensor(scalar: lhs), rhs, name: "mul") }
    /// Scalar divided by tensor.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor { broadcasting(DivOp.self, Tensor(scalar: lhs), rhs, name: "div") }

    /// In-place add; `rhs` must broadcast to `lhs`'s shape.
    public static func += (lhs: inout Tensor, rhs: Tensor) { broadcastingInPlace(AddOp.self, &lhs, rhs, name: "add_") }
    /// In-place subtract; `rhs` must broadcast to `lhs`'s shape.
    public static func -= (lhs: inout Tensor, rhs: Tensor) { broadcastingInPlace(SubOp.self, &lhs, rhs, name: "sub_") }
    /// In-place multiply; `rhs` must broadcast to `lhs`'s shape.
    public static func *= (lhs: inout Tensor, rhs: Tensor) { broadcastingInPlace(MulOp.self, &lhs, rhs, name: "mul_") }
    /// In-place divide; `rhs` must broadcast to `lhs`'s shape.
    public static func /= (lhs: inout Tensor, rhs: Tensor) { broadcastingInPlace(DivOp.self, &lhs, rhs, name: "div_") }
    /// In-place add of a scalar.
    public static func += (lhs: inout Tensor, rhs: Float) { broadcastingInPlace(AddOp.self, &lhs, Tensor(scalar: rhs), name: "add_") }
    /// In-place subtract of a scalar.
    public static func -= (lhs: inout Tensor, rhs: Float) { broadcastingInPlace(SubOp.self, &lhs, Tensor(scalar: rhs), name: "sub_") }
    /// In-place multiply by a scalar.
    public static func *= (lhs: inout Tensor, rhs: Float) { broadcastingInPlace(MulOp.self, &lhs, Tensor(scalar: rhs), name: "mul_") }
    /// In-place divide by a scalar.
    public static func /= (lhs: inout Tensor, rhs: Float) { broadcastingInPlace(DivOp.self, &lhs, Tensor(scalar: rhs), name: "div_") }

    /// Negation.
    public static prefix func - (x: Tensor) -> Tensor { x.unary(NegOp.self) }

    /// torch.maximum: elementwise larger value, with broadcasting (NaN propagates).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcasting(MaximumOp.self, a, b, name: "maximum") }
    /// torch.minimum: elementwise smaller value, with broadcasting (NaN propagates).
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcasting(MinimumOp.self, a, b, name: "minimum") }
}

// MARK: - Unary

// Methods whose torch names are also libm/Swift free functions (exp, sqrt, tanh, abs, pow, max, min) get
// spelled-out names: a Tensor member named `exp` would shadow the free function inside every
// `extension Tensor` in the module (Swift's unqualified lookup stops at the first member of that name).
extension Tensor {
    /// Applies a unary op to every element, spread over cores.
    @inlinable
    public func unary<Op: ElementwiseUnaryOp>(_: Op.Type) -> Tensor {
        Tensor(shape: shape) { out in
            withUnsafeBufferPointer { src in
                let s = src.baseAddress, o = out.baseAddress
                guard let s, let o else { return }
                Parallel.forChunks(count, grain: 16384) { r in
                    for i in r { o[i] = Op.apply(s[i]) }
                }
            }
        }
    }

    /// Applies `transform` to every element (spread over cores; `transform` must be thread-safe).
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { out in
            withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let o = out.baseAddress else { return }
                Parallel.forChunks(count, grain: 16384) { r in
                    for i in r { o[i] = transform(s[i]) }
                }
            }
        }
    }

    /// max(x, 0).
    public func relu() -> Tensor { unary(ReluOp.self) }
    /// 1 / (1 + e^−x).
    public func sigmoid() -> Tensor { unary(SigmoidOp.self) }
    /// Hyperbolic tangent (torch.tanh).
    public func hyperbolicTangent() -> Tensor { unary(TanhOp.self) }
    /// e^x (torch.exp).
    public func exponential() -> Tensor { unary(ExpOp.self) }
    /// Square root (torch.sqrt; NaN for negative elements).
    public func squareRoot() -> Tensor { unary(SqrtOp.self) }
    /// Exact GELU, x·Φ(x) via erf (torch `F.gelu` default, `nn.GELU()`).
    public func gelu() -> Tensor { unary(GeluOp.self) }
    /// Tanh-approximated GELU (torch `F.gelu(x, approximate='tanh')`).
    public func geluTanh() -> Tensor { unary(GeluTanhOp.self) }
    /// −x.
    public func neg() -> Tensor { unary(NegOp.self) }
    /// |x| (torch.abs).
    public func absolute() -> Tensor { unary(AbsOp.self) }

    /// torch.clamp: elements limited to [min, max] (either bound optional; NaN stays NaN).
    public func clamp(min lo: Float? = nil, max hi: Float? = nil) -> Tensor {
        let l = lo ?? -.infinity, h = hi ?? .infinity
        return map { x in
            // torch applies min first then max, so min > max yields max.
            let y = x < l ? l : x
            return y > h ? h : y
        }
    }

    /// x^p elementwise (torch.pow by a scalar); p = 2, 3, 0.5 and −1 use exact fast forms, as torch does.
    public func power(_ p: Float) -> Tensor {
        switch p {
        case 1: return self
        case 2: return map { $0 * $0 }
        case 3: return map { $0 * $0 * $0 }
        case 0.5: return unary(SqrtOp.self)
        case -1: return map { 1 / $0 }
        default: return map { Foundation.pow($0, p) }
        }
    }
}
