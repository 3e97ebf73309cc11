import Foundation

/// Copies the first operand; lets `expanded(to:)` reuse the broadcasting kernel.
private enum TakeFirstOp: ElementwiseBinaryOp { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a } }

extension Tensor {
    /// Resolves a possibly negative axis and checks it against this rank (programmer error if out of range).
    @usableFromInline
    func checkedAxis(_ axis: Int, _ op: String) -> Int {
        let a = self.axis(axis)
        precondition(a >= 0 && a < rank, "\(op): axis \(axis) out of range for shape \(shape)")
        return a
    }

    // MARK: Permute / transpose

    /// torch.permute: output dimension i is input dimension `dims[i]` (negative dims allowed); the result is
    /// materialised contiguously.
    public func permuted(_ dims: [Int]) -> Tensor {
        precondition(dims.count == rank, "permute: \(dims) for shape \(shape)")
        let p = dims.map { checkedAxis($0, "permute") }
        precondition(Set(p).count == rank, "permute: \(dims) is not a permutation")
        let outShape = p.map { shape[$0] }
        if count <= 1 { return reshaped(outShape) }
        let inStrides = strides
        // Merge output neighbours that are also neighbours, in order, in the input (size-1 dims dropped).
        var sizes: [Int] = [], srcStrides: [Int] = [], lastIn = -2
        for d in p where shape[d] != 1 {
            if d == lastIn + 1, !sizes.isEmpty {
                sizes[sizes.count - 1] *= shape[d]
                srcStrides[srcStrides.count - 1] = inStrides[d]
            } else {
                sizes.append(shape[d]); srcStrides.append(inStrides[d])
            }
            lastIn = d
        }
        if sizes.count <= 1 { return reshaped(outShape) }
        let r = sizes.count
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                // Assumes both buffers hold `count` elements; `sizes`/`srcStrides` describe the output walk.
                let s = src.baseAddress!, o = out.baseAddress!
                if srcStrides[r - 1] == 1 {
                    Tensor.permuteRows(s, o, sizes, srcStrides)
                } else if srcStrides[r - 2] == 1 {
                    Tensor.permuteTiledTranspose(s, o, sizes, srcStrides)
                } else {
                    Tensor.permuteGather(s, o, sizes, srcStrides)
                }
            }
        }
    }

    /// Input offset of the start of output row `row` over the leading `dims.count` output dimensions.
    @inline(__always)
    private static func rowOffset(_ row: Int, _ dims: ArraySlice<Int>, _ strides: [Int]) -> Int {
        var rem = row, off = 0
        for d in stride(from: dims.endIndex - 1, through: dims.startIndex, by: -1) {
            off += (rem % dims[d]) * strides[d]
            rem /= dims[d]
        }
        return off
    }

    /// Innermost output run is contiguous in the input: one block copy per output row.
    private static func permuteRows(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ sizes: [Int], _ st: [Int]) {
        let inner = sizes[sizes.count - 1]
        let lead = sizes.dropLast()
        let rows = lead.reduce(1, *)
        Parallel.forChunks(rows, grain: Swift.max(1, 32768 / inner)) { range in
            for row in range {
                (o + row * inner).update(from: s + rowOffset(row, lead, st), count: inner)
            }
        }
    }

    /// Output [..., A, B] where A is contiguous in the input: 2-d transpose per leading index, in cache tiles.
    private static func permuteTiledTranspose(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ sizes: [Int], _ st: [Int]) {
        let r = sizes.count
        let a = sizes[r - 2], b = sizes[r - 1], sb = st[r - 1]
        let lead = sizes.dropLast(2)
        let batches = lead.reduce(1, *)
        let tile = 32
        let tilesA = (a + tile - 1) / tile
        Parallel.forChunks(batches * tilesA, grain: Swift.max(1, 16384 / (tile * b))) { range in
            for task in range {
                let batch = task / tilesA, a0 = (task % tilesA) * tile
                let a1 = Swift.min(a, a0 + tile)
                let src = s + rowOffset(batch, lead, st), dst = o + batch * a * b
                var b0 = 0
                while b0 < b {
                    let b1 = Swift.min(b, b0 + tile)
                    for i in a0..<a1 {
                        let d = dst + i * b, sp = src + i
                        for j in b0..<b1 { d[j] = sp[j * sb] }
                    }
                    b0 = b1
                }
            }
        }
    }

    /// Fallback: strided gather along the innermost output dimension.
    private static func permuteGather(_ s: UnsafePointer<Float>, _ o: UnsafeMutablePointer<Float>, _ sizes: [Int], _ st: [Int]) {
        let inner = sizes[sizes.count - 1], si = st[sizes.count - 1]
        let lead = sizes.dropLast()
        let rows = lead.reduce(1, *)
        Parallel.forChunks(rows, grain: Swift.max(1, 16384 / inner)) { range in
            for row in range {
                let sp = s + rowOffset(row, lead, st), d = o + row * inner
                for j in 0..<inner { d[j] = sp[j * si] }
            }
        }
    }

    /// torch.transpose: swaps two dimensions (materialised).
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var p = Array(0..<rank)
        p.swapAt(checkedAxis(a, "transpose"), checkedAxis(b, "transpose"))
        return permuted(p)
    }

    // MARK: Concatenate / slice / split

    /// torch.cat: joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let ax = first.checkedAxis(axis, "concat")
        for t in tensors {
            precondition(t.rank == first.rank && (0..<first.rank).allSatisfy { $0 == ax || t.shape[$0] == first.shape[$0] },
                         "concat: shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
        }
        var outShape = first.shape
        outShape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
        let outer = first.shape[..<ax].reduce(1, *)
        let inner = first.shape[(ax + 1)...].reduce(1, *)
        let blocks = tensors.map { $0.shape[ax] * inner }
        let rowLen = blocks.reduce(0, +)
        var starts = [Int](repeating: 0, count: tensors.count)
        for i in 1..<Swift.max(tensors.count, 1) { starts[i] = starts[i - 1] + blocks[i - 1] }
        if outer * rowLen == 0 { return Tensor(shape: outShape) }
        // Keep every source's storage alive and addressable for the duration of the copy.
        let sources = tensors.map(\.data)
        return Tensor(shape: outShape) { out in
            let o = out.baseAddress!
            let tasks = outer * tensors.count
            Parallel.forChunks(tasks, grain: Swift.max(1, 32768 * tensors.count / Swift.max(rowLen, 1))) { range in
                for task in range {
                    let row = task / tensors.count, k = task % tensors.count
                    let n = blocks[k]
                    if n == 0 { continue }
                    sources[k].withUnsafeBufferPointer { src in
                        (o + row * rowLen + starts[k]).update(from: src.baseAddress! + row * n, count: n)
                    }
                }
            }
        }
    }

    /// Python-style slice x[..., start:end:step] along `axis`: negative indices count from the end, bounds
    /// are clamped, `end` nil means to the end; `step` must be positive.
    public func slice(axis: Int, start: Int = 0, end: Int? = nil, step: Int = 1) -> Tensor {
        let ax = checkedAxis(axis, "slice")
        precondition(step > 0, "slice: step must be positive, got \(step)")
        let n = shape[ax]
        func clampIndex(_ i: Int) -> Int { Swift.min(Swift.max(i < 0 ? i + n : i, 0), n) }
        let lo = clampIndex(start), hi = clampIndex(end ?? n)
        let len = hi > lo ? (hi - lo + step - 1) / step : 0
        var outShape = shape
        outShape[ax] = len
        if len == n { return self }
        let outer = shape[..<ax].reduce(1, *)
        let inner = shape[(ax + 1)...].reduce(1, *)
        if outer * len * inner == 0 { return Tensor(shape: outShape) }
        return Tensor(shape: outShape) { out in
            withUnsafeBufferPointer { src in
                // Assumes contiguous [outer, n, inner] input and [outer, len, inner] output.
                let s = src.baseAddress!, o = out.baseAddress!
                if step == 1 {
                    let run = len * inner
                    Parallel.forChunks(outer, grain: Swift.max(1, 32768 / run)) { range in
                        for r in range { (o + r * run).update(from: s + r * n * inner + lo * inner, count: run) }
                    }
                } else {
                    Parallel.forChunks(outer * len, grain: Swift.max(1, 32768 / inner)) { range in
                        for t in range {
                            let r = t / len, k = t % len
                            (o + t * inner).update(from: s + (r * n + lo + k * step) * inner, count: inner)
                        }
                    }
                }
            }
        }
    }

    /// x[..., range] along `axis` (Python clamping of the bounds; see `slice(axis:start:end:step:)`).
    public func slice(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        slice(axis: axis, start: range.lowerBound, end: range.upperBound, step: step)
    }

    /// x.select(axis, index): the slice at one index with that dimension removed (negative index allowed).
    public func select(axis: Int, index: Int) -> Tensor {
        let ax = checkedAxis(axis, "select")
        let i = index < 0 ? index + shape[ax] : index
        precondition(i >= 0 && i < shape[ax], "select: index \(index) out of range for dimension \(shape[ax])")
        return slice(axis: ax, start: i, end: i + 1).squeezed(axis: ax)
    }

    /// torch.index_select: the slices at `indices` (in that order, repeats allowed) along `axis`.
    public func indexSelect(_ indices: [Int], axis: Int = 0) -> Tensor {
        let ax = checkedAxis(axis, "indexSelect")
        let outer = shape[..<ax].reduce(1, *), dim = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        precondition(indices.allSatisfy { $0 >= 0 && $0 < dim }, "indexSelect: index out of range for dimension \(dim)")
        var outShape = shape
        outShape[ax] = indices.count
        return withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { dst in
                // src is outer×dim×inner, dst outer×indices.count×inner; every row copied is `inner` long.
                var o = 0
                for b in 0..<outer {
                    for i in indices {
                        (dst.baseAddress! + o).update(from: src.baseAddress! + (b * dim + i) * inner, count: inner)
                        o += inner
                    }
                }
            }
        }
    }

    /// torch.split with explicit sizes (must sum to the dimension).
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = checkedAxis(axis, "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[ax],
                     "split: sizes \(sizes) do not sum to dimension \(shape[ax]) of \(shape)")
        var start = 0
        return sizes.map { s in
            defer { start += s }
            return slice(axis: ax, start: start, end: start + s)
        }
    }

    /// torch.split with one size: pieces of `size` along `axis`, the last one possibly smaller.
    public func split(size: Int, axis: Int) -> [Tensor] {
        let ax = checkedAxis(axis, "split")
        precondition(size > 0, "split: size must be positive, got \(size)")
        let n = shape[ax]
        if n == 0 { return [self] }
        return stride(from: 0, to: n, by: size).map { slice(axis: ax, start: $0, end: Swift.min(n, $0 + size)) }
    }

    /// torch.chunk: `chunks` pieces of ⌈n/chunks⌉ along `axis` (fewer pieces if the dimension runs out).
    public func chunk(_ chunks: Int, axis: Int) -> [Tensor] {
        let ax = checkedAxis(axis, "chunk")
        precondition(chunks > 0, "chunk: chunks must be positive, got \(chunks)")
        let n = shape[ax]
        return split(size: Swift.max(1, (n + chunks - 1) / chunks), axis: ax)
    }

    // MARK: Squeeze / unsqueeze / expand

    /// torch.squeeze(dim): removes `axis` if its size is 1, otherwise returns the tensor unchanged.
    public func squeezed(axis: Int) -> Tensor {
        let ax = checkedAxis(axis, "squeeze")
        guard shape[ax] == 1 else { return self }
        var s = shape
        s.remove(at: ax)
        return reshaped(s)
    }

    /// torch.squeeze(): removes every size-1 dimension.
    public func squeezed() -> Tensor { reshaped(shape.filter { $0 != 1 }) }

    /// torch.unsqueeze: inserts a size-1 dimension at `axis` (−1 appends).
    public func unsqueezed(axis: Int) -> Tensor {
        let ax = axis < 0 ? axis + rank + 1 : axis
        precondition(ax >= 0 && ax <= rank, "unsqueeze: axis \(axis) out of range for shape \(shape)")
        var s = shape
        s.insert(1, at: ax)
        return reshaped(s)
    }

    /// torch.expand / broadcast_to: materialises this tensor broadcast to `target` (−1 keeps a dimension).
    public func expanded(to target: [Int]) -> Tensor {
        precondition(target.count >= rank, "expand: cannot expand \(shape) to fewer dimensions \(target)")
        let lead = target.count - rank
        let resolved = target.enumerated().map { i, d in d == -1 && i >= lead ? shape[i - lead] : d }
        precondition(Tensor.broadcastShape(shape, resolved) == resolved, "expand: \(shape) does not broadcast to \(target)")
        if resolved == shape { return self }
        var dummy: Float = 0
        return Tensor(shape: resolved) { out in
            withUnsafeBufferPointer { src in
                withUnsafePointer(to: &dummy) { d in
                    Tensor.broadcastKernel(TakeFirstOp.self, a: src.baseAddress!, aShape: shape, b: d, bShape: [],
                                           out: out.baseAddress!, outShape: resolved)
                }
            }
        }
    }

    // MARK: Pad / repeat

    /// Constant padding: `widths[d]` elements before and after dimension d (one pair per dimension, ≥ 0).
    /// SAM's window partition pads [B, H, W, C] with `[(0, 0), (0, padH), (0, padW), (0, 0)]`.
    public func padded(_ widths: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(widths.count == rank, "pad: \(widths.count) pairs for shape \(shape)")
        precondition(widths.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "pad: negative padding \(widths)")
        if widths.allSatisfy({ $0.before == 0 && $0.after == 0 }) { return self }
        let outShape = zip(shape, widths).map { $0 + $1.before + $1.after }
        var result = Tensor(shape: outShape, repeating: value)
        if count == 0 { return result }
        let inner = shape[rank - 1]
        let lead = shape.dropLast()
        let rows = count / inner
        let outStrides = Tensor.strides(of: outShape)
        var base = 0
        for d in 0..<rank { base += widths[d].before * outStrides[d] }
        let dstStrides = Array(outStrides.dropLast())
        result.withUnsafeMutableBufferPointer { out in
            withUnsafeBufferPointer { src in
                // Assumes `out` has outShape and `src` has shape; every input row lands inside the output.
                let s = src.baseAddress!, o = out.baseAddress!
                Parallel.forChunks(rows, grain: Swift.max(1, 32768 / inner)) { range in
                    for row in range {
                        (o + base + Tensor.rowOffset(row, lead, dstStrides)).update(from: s + row * inner, count: inner)
                    }
                }
            }
        }
        return result
    }

    /// torch.Tensor.repeat: tiles the whole tensor `repeats[d]` times along each dimension (extra leading
    /// entries add new dimensions).
    public func repeated(_ repeats: [Int]) -> Tensor {
        precondition(repeats.count >= rank && repeats.allSatisfy { $0 >= 0 },
                     "repeat: \(repeats) for shape \(shape)")
        let full = [Int](repeating: 1, count: repeats.count - rank) + shape
        // View as [1, s0, 1, s1, ...], broadcast to [r0, s0, r1, s1, ...], then merge pairs.
        let interleaved = full.flatMap { [1, $0] }
        let expandedShape = zip(repeats, full).flatMap { [$0, $1] }
        return reshaped(interleaved).expanded(to: expandedShape).reshaped(zip(repeats, full).map { $0 * $1 })
    }

    /// torch.Tensor.repeat along one axis only (the whole tensor tiled `times` times there).
    public func repeated(_ times: Int, axis: Int) -> Tensor {
        var r = [Int](repeating: 1, count: rank)
        r[checkedAxis(axis, "repeat")] = times
        return repeated(r)
    }

    /// torch.repeat_interleave(times, dim): each slice along `axis` repeated `times` times in place.
    public func repeatInterleaved(_ times: Int, axis: Int) -> Tensor {
        let ax = checkedAxis(axis, "repeat_interleave")
        precondition(times >= 0, "repeat_interleave: negative count \(times)")
        var viewShape = shape, target = shape, outShape = shape
        viewShape.insert(1, at: ax + 1)
        target.insert(times, at: ax + 1)
        outShape[ax] *= times
        return reshaped(viewShape).expanded(to: target).reshaped(outShape)
    }
}
