import Foundation

/// A crop of the image in pixels, (x0, y0, x1, y1) with x1/y1 exclusive (amg.py's `crop_box` lists).
public struct CropBox: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    /// A box from its corners.
    public init(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) { (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1) }
    /// Width × height of the box.
    public var area: Int { (x1 - x0) * (y1 - y0) }
    /// (x0, y0, x1, y1).
    public var xyxy: [Int] { [x0, y0, x1, y1] }
    /// (x0, y0, width, height), `box_xyxy_to_xywh`.
    public var xywh: [Int] { [x0, y0, x1 - x0, y1 - y0] }
    public var description: String { "[\(x0), \(y0), \(x1), \(y1)]" }
}

/// Which small regions `removeSmallRegions` removes.
public enum SmallRegionMode: String, Sendable, CaseIterable {
    /// Fill background components smaller than the threshold.
    case holes
    /// Drop foreground components smaller than the threshold (keeping the largest if all are small).
    case islands
}

/// The non-network helpers of SAM 2's automatic mask generator (sam2/utils/amg.py). Masks are Float tensors
/// whose nonzero entries are foreground; boxes are XYXY pixel coordinates.
public enum MaskGenerationUtilities {
    /// `build_point_grid`: n×n points evenly spaced in [0, 1]², x fastest, cell centres
    /// (numpy `linspace(1/2n, 1 − 1/2n, n)` in double precision, last point exact).
    public static func buildPointGrid(_ nPerSide: Int) -> [SIMD2<Double>] {
        precondition(nPerSide >= 0, "buildPointGrid: negative size \(nPerSide)")
        let offset = 1 / (2 * Double(nPerSide))
        let stop = 1 - offset
        var side = [Double]()
        if nPerSide == 1 { side = [offset] }
        else if nPerSide > 1 {
            let step = (stop - offset) / Double(nPerSide - 1)
            side = (0..<nPerSide).map { Double($0) * step + offset }
            side[nPerSide - 1] = stop
        }
        var points = [SIMD2<Double>]()
        points.reserveCapacity(nPerSide * nPerSide)
        for y in side { for x in side { points.append(SIMD2(x, y)) } }
        return points
    }

    /// `build_all_layer_point_grids`: the grid of layer i has ⌊n / scale^i⌋ points per side, i = 0…nLayers.
    public static func buildAllLayerPointGrids(nPerSide: Int, nLayers: Int, scalePerLayer: Int) -> [[SIMD2<Double>]] {
        (0...max(0, nLayers)).map { i in
            buildPointGrid(Int(Double(nPerSide) / pow(Double(scalePerLayer), Double(i))))
        }
    }

    /// Grid points (normalised) scaled to a crop of `cropHW` = (h, w) pixels, rounded to Float at the end
    /// as `torch.as_tensor(points * scale, dtype=float32)` does: [N, 2] as (x, y).
    public static func scalePoints(_ points: [SIMD2<Double>], cropHW: (Int, Int)) -> Tensor {
        let (h, w) = (Double(cropHW.0), Double(cropHW.1))
        var data = [Float](); data.reserveCapacity(2 * points.count)
        for p in points { data.append(Float(p.x * w)); data.append(Float(p.y * h)) }
        return Tensor(shape: [points.count, 2], data: data)
    }

    /// `generate_crop_boxes`: the whole image, then for layer i = 1…nLayers a 2^i × 2^i grid of overlapping
    /// crops (x0 outer, y0 inner, as `itertools.product`); returns the boxes and their layer indices.
    public static func generateCropBoxes(imageSize: (Int, Int), nLayers: Int,
                                         overlapRatio: Double = 512.0 / 1500.0) -> (cropBoxes: [CropBox], layerIdxs: [Int]) {
        let (imH, imW) = imageSize
        let shortSide = Double(min(imH, imW))
        var boxes = [CropBox(0, 0, imW, imH)], layers = [0]
        func cropLen(_ origLen: Int, _ nCrops: Int, _ overlap: Int) -> Int {
            Int((Double(overlap * (nCrops - 1) + origLen) / Double(nCrops)).rounded(.up))
        }
        guard nLayers > 0 else { return (boxes, layers) }
        for iLayer in 0..<nLayers {
            let nCrops = 1 << (iLayer + 1)
            let overlap = Int(overlapRatio * shortSide * (2 / Double(nCrops)))
            let cropW = cropLen(imW, nCrops, overlap), cropH = cropLen(imH, nCrops, overlap)
            let xs = (0..<nCrops).map { (cropW - overlap) * $0 }
            let ys = (0..<nCrops).map { (cropH - overlap) * $0 }
            for x0 in xs {
                for y0 in ys {
                    boxes.append(CropBox(x0, y0, min(x0 + cropW, imW), min(y0 + cropH, imH)))
                    layers.append(iLayer + 1)
                }
            }
        }
        return (boxes, layers)
    }

    /// `batch_iterator`: consecutive index ranges of at most `batchSize` covering 0..<count.
    public static func batchRanges(batchSize: Int, count: Int) -> [Range<Int>] {
        precondition(batchSize > 0, "batchRanges: batchSize must be positive")
        return stride(from: 0, to: count, by: batchSize).map { $0..<min($0 + batchSize, count) }
    }

    /// `calculate_stability_score`: for logits [..., H, W], the IoU of the masks thresholded at
    /// threshold + offset and threshold − offset (strict >, thresholds computed in double and compared in
    /// float32 as PyTorch does); returns [...] (NaN for 0/0). Counts are exact integers: the official int16
    /// row sums only overflow for W > 32767.
    public static func calculateStabilityScore(_ masks: Tensor, maskThreshold: Double,
                                               thresholdOffset: Double) -> Tensor {
        precondition(masks.rank >= 2, "calculateStabilityScore: needs [..., H, W], got \(masks.shape)")
        let outShape = Array(masks.shape.dropLast(2))
        let plane = masks.shape[masks.rank - 2] * masks.shape[masks.rank - 1]
        let n = outShape.reduce(1, *)
        let hi = Float(maskThreshold + thresholdOffset), lo = Float(maskThreshold - thresholdOffset)
        return masks.withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { out in
                // src holds n planes; each worker writes only out[k].
                let (s, o) = (src, out)
                Parallel.forEach(n) { k in
                    var inter = 0, union = 0
                    for i in (k * plane)..<((k + 1) * plane) {
                        let v = s[i]
                        if v > hi { inter += 1 }
                        if v > lo { union += 1 }
                    }
                    o[k] = Float(inter) / Float(union)
                }
            }
        }
    }

    /// `batched_mask_to_box`: XYXY boxes (inclusive pixel indices) around masks [..., H, W] → [..., 4];
    /// [0, 0, 0, 0] for an empty mask.
    public static func batchedMaskToBox(_ masks: Tensor) -> Tensor {
        precondition(masks.rank >= 2, "batchedMaskToBox: needs [..., H, W], got \(masks.shape)")
        let outShape = Array(masks.shape.dropLast(2)) + [4]
        let (h, w) = (masks.shape[masks.rank - 2], masks.shape[masks.rank - 1])
        let n = outShape.dropLast().reduce(1, *)
        guard masks.count > 0 else { return Tensor(shape: outShape, repeating: 0) }
        return masks.withUnsafeBufferPointer { src in
            Tensor(shape: outShape) { out in
                let (s, o) = (src, out)
                Parallel.forEach(n) { k in
                    var (x0, y0, x1, y1) = (w, h, -1, -1)
                    for y in 0..<h {
                        let row = k * h * w + y * w
                        for x in 0..<w where s[row + x] != 0 {
                            x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                        }
                    }
                    let box = x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1]
                    for j in 0..<4 { o[4 * k + j] = Float(box[j]) }
                }
            }
        }
    }

    /// `is_box_near_crop_edge`: for crop-frame boxes [N, 4], whether a side lies within `atol` of the crop's
    /// edge while not within `atol` of the original image's edge.
    public static func isBoxNearCropEdge(_ boxes: Tensor, cropBox: CropBox, origBox: CropBox,
                                         atol: Float = 20) -> [Bool] {
        precondition(boxes.rank == 2 && boxes.shape[1] == 4, "isBoxNearCropEdge: needs [N, 4], got \(boxes.shape)")
        let uncropped = uncropBoxesXYXY(boxes, cropBox: cropBox)
        let crop = cropBox.xyxy.map(Float.init), orig = origBox.xyxy.map(Float.init)
        return (0..<boxes.shape[0]).map { i in
            (0..<4).contains { j in
                let v = uncropped.data[4 * i + j]
                // torch.isclose with rtol 0: |a − b| ≤ atol.
                return abs(v - crop[j]) <= atol && !(abs(v - orig[j]) <= atol)
            }
        }
    }

    /// `box_xyxy_to_xywh` over the last axis of [..., 4].
    public static func boxXYXYToXYWH(_ boxes: Tensor) -> Tensor {
        precondition(boxes.rank >= 1 && boxes.shape[boxes.rank - 1] == 4, "boxXYXYToXYWH: needs [..., 4], got \(boxes.shape)")
        var out = boxes
        for i in stride(from: 0, to: out.count, by: 4) {
            out.data[i + 2] -= out.data[i]
            out.data[i + 3] -= out.data[i + 1]
        }
        return out
    }

    /// `uncrop_boxes_xyxy`: crop-frame boxes [..., 4] → image frame.
    public static func uncropBoxesXYXY(_ boxes: Tensor, cropBox: CropBox) -> Tensor {
        precondition(boxes.rank >= 1 && boxes.shape[boxes.rank - 1] == 4, "uncropBoxesXYXY: needs [..., 4], got \(boxes.shape)")
        let offset = [Float(cropBox.x0), Float(cropBox.y0), Float(cropBox.x0), Float(cropBox.y0)]
        var out = boxes
        for i in 0..<out.count { out.data[i] += offset[i % 4] }
        return out
    }

    /// `uncrop_points`: crop-frame points [..., 2] → image frame.
    public static func uncropPoints(_ points: Tensor, cropBox: CropBox) -> Tensor {
        precondition(points.rank >= 1 && points.shape[points.rank - 1] == 2, "uncropPoints: needs [..., 2], got \(points.shape)")
        var out = points
        for i in 0..<out.count { out.data[i] += Float(i % 2 == 0 ? cropBox.x0 : cropBox.y0) }
        return out
    }

    /// `uncrop_masks`: crop masks [..., h, w] zero-padded into the original [..., origH, origW] frame.
    public static func uncropMasks(_ masks: Tensor, cropBox: CropBox, origH: Int, origW: Int) -> Tensor {
        let c = cropBox
        if c.x0 == 0 && c.y0 == 0 && c.x1 == origW && c.y1 == origH { return masks }
        let padX = origW - (c.x1 - c.x0), padY = origH - (c.y1 - c.y0)
        var widths = Array(repeating: (before: 0, after: 0), count: masks.rank)
        widths[masks.rank - 2] = (c.y0, padY - c.y0)
        widths[masks.rank - 1] = (c.x0, padX - c.x0)
        return masks.padded(widths, value: 0)
    }

    /// `remove_small_regions` on one mask [H, W]: with `.holes`, fills background components (8-connected)
    /// of area < `areaThresh`; with `.islands`, removes foreground components of area < `areaThresh`, keeping
    /// the largest one if every component is small. Returns the 0/1 mask and whether anything changed.
    ///
    /// Ties for the largest island go to the component cv2 numbers first: cv2 scans 2×2 pixel blocks, so
    /// that is the component whose first pixel comes first in (y/2, x/2, then raster within the block) order.
    public static func removeSmallRegions(_ mask: Tensor, areaThresh: Double,
                                          mode: SmallRegionMode) -> (mask: Tensor, changed: Bool) {
        precondition(mask.rank == 2, "removeSmallRegions: needs [H, W], got \(mask.shape)")
        let (h, w) = (mask.shape[0], mask.shape[1])
        let holes = mode == .holes
        let cc = ConnectedComponents(height: h, width: w) { (mask.data[$0] != 0) != holes }
        let small = (1..<(cc.count + 1)).filter { Double(cc.areas[$0]) < areaThresh }
        if small.isEmpty { return (mask, false) }
        var keepLabel = [Bool](repeating: false, count: cc.count + 1)
        if holes {
            keepLabel[0] = true
            for l in small { keepLabel[l] = true }
        } else {
            let isSmall = Set(small)
            for l in 1..<(cc.count + 1) where !isSmall.contains(l) { keepLabel[l] = true }
            if small.count == cc.count { keepLabel[largestInCVOrder(cc)] = true }
        }
        let out = Tensor(shape: [h, w], data: cc.labels.map { keepLabel[Int($0)] ? 1 : 0 })
        return (out, true)
    }

    /// The label np.argmax(sizes) picks among cv2's labels: the largest area, ties to the first in cv2's
    /// 2×2-block scan order.
    private static func largestInCVOrder(_ cc: ConnectedComponents) -> Int {
        var firstKey = [Int](repeating: .max, count: cc.count + 1)
        for y in 0..<cc.height {
            for x in 0..<cc.width {
                let l = Int(cc.labels[y * cc.width + x])
                guard l > 0 else { continue }
                let key = ((y / 2) * ((cc.width + 1) / 2) + x / 2) * 4 + (y % 2) * 2 + x % 2
                firstKey[l] = min(firstKey[l], key)
            }
        }
        var best = 1
        for l in 2..<(cc.count + 1) where cc.areas[l] > cc.areas[best] || (cc.areas[l] == cc.areas[best] && firstKey[l] < firstKey[best]) {
            best = l
        }
        return best
    }
}
