import Foundation

/// torchvision.ops box utilities used by the automatic mask generator; boxes are [N, 4] XYXY Float tensors.
public enum BoxOperations {
    /// `box_area`: (x1 − x0)·(y1 − y0) per box.
    public static func boxArea(_ boxes: Tensor) -> [Float] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4, "boxArea: needs [N, 4], got \(boxes.shape)")
        let d = boxes.data
        return (0..<boxes.shape[0]).map { i in (d[4 * i + 2] - d[4 * i]) * (d[4 * i + 3] - d[4 * i + 1]) }
    }

    /// `box_iou`: pairwise IoU [N, M].
    public static func boxIoU(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.rank == 2 && a.shape[1] == 4 && b.rank == 2 && b.shape[1] == 4,
                     "boxIoU: needs [N, 4] and [M, 4], got \(a.shape), \(b.shape)")
        let (n, m) = (a.shape[0], b.shape[0])
        let areaA = boxArea(a), areaB = boxArea(b)
        let (p, q) = (a.data, b.data)
        var out = [Float](repeating: 0, count: n * m)
        for i in 0..<n {
            for j in 0..<m {
                let w = max(min(p[4 * i + 2], q[4 * j + 2]) - max(p[4 * i], q[4 * j]), 0)
                let h = max(min(p[4 * i + 3], q[4 * j + 3]) - max(p[4 * i + 1], q[4 * j + 1]), 0)
                let inter = w * h
                out[i * m + j] = inter / (areaA[i] + areaB[j] - inter)
            }
        }
        return Tensor(shape: [n, m], data: out)
    }

    /// `nms` (torchvision's CPU kernel): greedy by descending score, dropping boxes whose IoU with a kept box
    /// is > `iouThreshold`; returns kept indices in descending score order. Equal scores keep index order
    /// (a stable sort: what torch's CPU sort yields; torchvision does not specify tie order).
    public static func nms(_ boxes: Tensor, scores: [Float], iouThreshold: Double) -> [Int] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4 && scores.count == boxes.shape[0],
                     "nms: needs [N, 4] boxes and N scores, got \(boxes.shape), \(scores.count)")
        let n = scores.count
        let order = (0..<n).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let d = boxes.data, areas = boxArea(boxes)
        var suppressed = [Bool](repeating: false, count: n)
        var keep = [Int]()
        for (rank, i) in order.enumerated() where !suppressed[i] {
            keep.append(i)
            let (ix0, iy0, ix1, iy1) = (d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3])
            for j in order[(rank + 1)...] where !suppressed[j] {
                let w = max(min(ix1, d[4 * j + 2]) - max(ix0, d[4 * j]), 0)
                let h = max(min(iy1, d[4 * j + 3]) - max(iy0, d[4 * j + 1]), 0)
                let inter = w * h
                let iou = inter / (areas[i] + areas[j] - inter)
                // The C++ kernel compares the float IoU with the double threshold.
                if Double(iou) > iouThreshold { suppressed[j] = true }
            }
        }
        return keep
    }

    /// `batched_nms`: NMS within each category `idxs[i]`, kept indices in descending score order. As
    /// torchvision on CPU: up to 4000 box coordinates it offsets each category's boxes by
    /// idx·(max coordinate + 1) and runs one NMS; above that it runs NMS per category.
    public static func batchedNMS(_ boxes: Tensor, scores: [Float], idxs: [Int], iouThreshold: Double) -> [Int] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4 && scores.count == boxes.shape[0] && idxs.count == scores.count,
                     "batchedNMS: needs [N, 4] boxes, N scores and N idxs, got \(boxes.shape), \(scores.count), \(idxs.count)")
        let n = scores.count
        if n == 0 { return [] }
        if boxes.count <= 4000 {
            let maxCoordinate = boxes.data.max() ?? 0
            let step = maxCoordinate + 1
            var shifted = boxes
            for i in 0..<n {
                let offset = Float(idxs[i]) * step
                for j in 0..<4 { shifted.data[4 * i + j] += offset }
            }
            return nms(shifted, scores: scores, iouThreshold: iouThreshold)
        }
        var keepMask = [Bool](repeating: false, count: n)
        for category in Set(idxs) {
            let members = (0..<n).filter { idxs[$0] == category }
            var sub = [Float](); sub.reserveCapacity(4 * members.count)
            for i in members { sub.append(contentsOf: boxes.data[(4 * i)..<(4 * i + 4)]) }
            let kept = nms(Tensor(shape: [members.count, 4], data: sub), scores: members.map { scores[$0] },
                           iouThreshold: iouThreshold)
            for k in kept { keepMask[members[k]] = true }
        }
        let kept = (0..<n).filter { keepMask[$0] }
        return kept.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }
}
