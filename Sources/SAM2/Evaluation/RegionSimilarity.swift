/// Region similarity J of the DAVIS benchmark (`db_eval_iou`): intersection over union of two binary masks.
public enum RegionSimilarity {
    /// J of one frame; both masks empty counts as a perfect match (1), as in the DAVIS toolkit.
    public static func jaccard(annotation: BitMask, segmentation: BitMask) -> Double {
        let union = annotation.unionCount(segmentation)
        if union == 0 { return 1 }
        return Double(annotation.intersectionCount(segmentation)) / Double(union)
    }
}
