import Foundation

/// Simulated user prompts from ground truth, following the SAM 2 paper's protocols (clicks at the centre of
/// the error region as in RITM / `sample_one_point_from_error_center`, boxes with SAM-style noise, masks).
public enum ClickSimulation {
    /// How the error region that receives the next click is chosen.
    public enum ErrorRegionRule: Sendable {
        /// The official rule (RITM, SAM 2 `sample_one_point_from_error_center`): the false-negative and the
        /// false-positive maps are distance-transformed and the click goes to the single pixel farthest from
        /// its region's boundary; positive iff the FN maximum is strictly larger (ties go negative).
        case farthestPoint
        /// The connected component (8-connected) with the most pixels among FN and FP regions (ties: FN first,
        /// then the component met first in row-major order), clicked at its own farthest-from-boundary pixel.
        case largestArea
    }

    /// Box-corner noise models.
    public enum BoxNoise: Sendable {
        /// No noise: the tight bounding box.
        case none
        /// SAM paper: each coordinate gets Gaussian noise with std `fraction`·side, clipped to ±`bound` px.
        case gaussian(fraction: Double = 0.1, bound: Double = 20)
        /// SAM 2 code (`sample_box_points`): uniform in ±min(`fraction`·side, `bound`) px.
        case uniform(fraction: Double = 0.1, bound: Double = 20)
    }

    /// The pixel farthest from the mask's boundary (image border included, as the official code pads by 1);
    /// ties go to the first pixel in row-major order (smallest y, then smallest x — numpy's argmax order).
    /// Returns the pixel and its squared distance, or nil for an empty mask.
    public static func center(of mask: BinaryMask) -> (x: Int, y: Int, squaredDistance: Int)? {
        let d = DistanceTransform.squaredEuclidean(mask, padBorder: true)
        var best = 0, at = -1
        for i in 0..<d.count where d[i] > best { best = d[i]; at = i }
        return at < 0 ? nil : (at % mask.width, at / mask.width, best)
    }

    /// First click on an object: positive, at the interior point farthest from its boundary (nil if empty).
    public static func firstClick(_ gt: BinaryMask) -> Click? {
        center(of: gt).map { Click(x: $0.x, y: $0.y, positive: true) }
    }

    /// The next corrective click given the ground truth and the current prediction: positive in a missed
    /// (false-negative) region, negative in a spurious (false-positive) one; nil when the prediction is exact.
    public static func nextClick(gt: BinaryMask, prediction: BinaryMask, rule: ErrorRegionRule = .farthestPoint) -> Click? {
        precondition(gt.width == prediction.width && gt.height == prediction.height,
                     "nextClick: gt \(gt.width)×\(gt.height) vs prediction \(prediction.width)×\(prediction.height)")
        var fn = BinaryMask(width: gt.width, height: gt.height), fp = fn
        for i in 0..<gt.bits.count {
            fn.bits[i] = gt.bits[i] && !prediction.bits[i]
            fp.bits[i] = !gt.bits[i] && prediction.bits[i]
        }
        switch rule {
        case .farthestPoint:
            let a = center(of: fn), b = center(of: fp)
            if a == nil && b == nil { return nil }
            let positive = (a?.squaredDistance ?? 0) > (b?.squaredDistance ?? 0)
            let p = positive ? a! : b!
            return Click(x: p.x, y: p.y, positive: positive)
        case .largestArea:
            let a = largestComponent(fn), b = largestComponent(fp)
            guard let region = (a?.area ?? 0) >= (b?.area ?? 0) ? a : b else { return nil }
            let positive = (a?.area ?? 0) >= (b?.area ?? 0)
            guard let p = center(of: region.mask) else { return nil }
            return Click(x: p.x, y: p.y, positive: positive)
        }
    }

    /// k clicks on one object: the first from the ground truth alone, each later one from the error of the
    /// model's prediction for the clicks so far (`predict` is called k−1 times). Stops early when exact.
    public static func clicks(gt: BinaryMask, count k: Int, rule: ErrorRegionRule = .farthestPoint,
                              predict: ([Click]) throws -> BinaryMask) rethrows -> [Click] {
        guard k > 0, let first = firstClick(gt) else { return [] }
        var out = [first]
        while out.count < k {
            let prediction = try predict(out)
            guard let next = nextClick(gt: gt, prediction: prediction, rule: rule) else { break }
            out.append(next)
        }
        return out
    }

    /// Box prompt from the mask's bounding box (inclusive max pixel, as `mask_to_box`), optionally jittered
    /// with `noise` drawn from `rng` and clamped to the image ([0, W−1] × [0, H−1]); nil for an empty mask.
    public static func box(_ gt: BinaryMask, noise: BoxNoise = .none, rng: inout SplitMix64) -> BoxPrompt? {
        guard let b = gt.bounds else { return nil }
        var box = [Double(b.minX), Double(b.minY), Double(b.maxX), Double(b.maxY)]
        let bw = box[2] - box[0], bh = box[3] - box[1]
        for i in 0..<4 {
            let side = i % 2 == 0 ? bw : bh
            switch noise {
            case .none: break
            case let .gaussian(fraction, bound): box[i] += max(-bound, min(bound, rng.normal() * fraction * side))
            case let .uniform(fraction, bound): box[i] += (2 * rng.nextUnit() - 1) * min(fraction * side, bound)
            }
            box[i] = max(0, min(Double(i % 2 == 0 ? gt.width - 1 : gt.height - 1), box[i]))
        }
        return BoxPrompt(x0: box[0], y0: box[1], x1: box[2], y1: box[3])
    }

    /// Tight box prompt (no noise).
    public static func box(_ gt: BinaryMask) -> BoxPrompt? {
        var rng = SplitMix64(seed: 0)
        return box(gt, noise: .none, rng: &rng)
    }

    /// The mask prompt: the ground truth itself as a [H, W] 0/1 tensor.
    public static func maskPrompt(_ gt: BinaryMask) -> Tensor { gt.toTensor() }

    /// Largest 8-connected component of `mask` (first met in row-major order on ties).
    static func largestComponent(_ mask: BinaryMask) -> (mask: BinaryMask, area: Int)? {
        let w = mask.width, h = mask.height
        var label = [Int32](repeating: 0, count: w * h)
        var best: (seed: Int, area: Int, id: Int32)? = nil
        var next: Int32 = 0
        var stack: [Int] = []
        for s in 0..<(w * h) where mask.bits[s] && label[s] == 0 {
            next += 1; label[s] = next; stack.append(s)
            var area = 0
            while let p = stack.popLast() {
                area += 1
                let px = p % w, py = p / w
                for dy in -1...1 {
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let qx = px + dx, qy = py + dy
                        guard qx >= 0, qx < w, qy >= 0, qy < h else { continue }
                        let q = qy * w + qx
                        if mask.bits[q] && label[q] == 0 { label[q] = next; stack.append(q) }
                    }
                }
            }
            if best == nil || area > best!.area { best = (s, area, next) }
        }
        guard let b = best else { return nil }
        var out = BinaryMask(width: w, height: h)
        for i in 0..<(w * h) where label[i] == b.id { out.bits[i] = true }
        return (out, b.area)
    }
}
