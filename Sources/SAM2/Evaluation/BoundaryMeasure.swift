import Foundation

/// Boundary accuracy F of the DAVIS benchmark (`f_measure` / `db_eval_boundary`): precision and recall of the
/// predicted boundary against the ground-truth one, each matched within a disk of radius ⌈bound_th · diagonal⌉.
public enum BoundaryMeasure {
    /// The toolkit's default tolerance, a fraction of the image diagonal.
    public static let defaultBoundThreshold = 0.008

    /// Matching radius in pixels: `boundTh` itself when ≥ 1, else ⌈boundTh · √(h² + w²)⌉.
    public static func radius(width: Int, height: Int, boundTh: Double = defaultBoundThreshold) -> Int {
        if boundTh >= 1 { return Int(boundTh) }
        let diagonal = Double(height * height + width * width).squareRoot()
        return Int((boundTh * diagonal).rounded(.up))
    }

    /// F of one frame. Empty-boundary rules as in the toolkit: neither boundary → 1; only one of them → 0.
    public static func fMeasure(foreground: BitMask, groundTruth: BitMask,
                                boundTh: Double = defaultBoundThreshold) -> Double {
        precondition(foreground.width == groundTruth.width && foreground.height == groundTruth.height,
                     "fMeasure: size mismatch")
        let r = radius(width: foreground.width, height: foreground.height, boundTh: boundTh)
        return fMeasure(foregroundBoundary: BoundaryMap.seg2bmap(foreground),
                        groundTruthBoundary: BoundaryMap.seg2bmap(groundTruth), radius: r)
    }

    /// F from boundary maps already computed by `BoundaryMap.seg2bmap`, with an explicit radius.
    public static func fMeasure(foregroundBoundary fg: BitMask, groundTruthBoundary gt: BitMask, radius r: Int) -> Double {
        let nFG = fg.count, nGT = gt.count
        let precision: Double, recall: Double
        switch (nFG == 0, nGT == 0) {
        case (true, false): precision = 1; recall = 0
        case (false, true): precision = 0; recall = 1
        case (true, true): precision = 1; recall = 1
        case (false, false):
            precision = Double(DiskDilation.coveredCount(probe: fg, source: gt, radius: r)) / Double(nFG)
            recall = Double(DiskDilation.coveredCount(probe: gt, source: fg, radius: r)) / Double(nGT)
        }
        if precision + recall == 0 { return 0 }
        return 2 * precision * recall / (precision + recall)
    }
}
