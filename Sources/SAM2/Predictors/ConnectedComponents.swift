import Foundation

/// 8-connected components of one binary image (the connectivity of SAM 2's CUDA kernel
/// `get_connected_componnets`, of cv2 `connectedComponentsWithStats(…, 8)` and of
/// `scipy.ndimage.label` with a 3×3 structure).
///
/// Components are numbered 1…count in raster order of their first pixel (as scipy does; the CUDA kernel's
/// label values are arbitrary pixel indices, and only `label > 0` and the areas are used by SAM 2).
public struct ConnectedComponents: Sendable {
    /// Image height.
    public let height: Int
    /// Image width.
    public let width: Int
    /// Row-major per-pixel label: 0 on background, 1…count on foreground.
    public let labels: [Int32]
    /// Pixel count of each component; `areas[0]` is 0 (background is not a component).
    public let areas: [Int]

    /// Number of components.
    public var count: Int { areas.count - 1 }

    /// Labels the pixels where `isForeground(index)` holds (index = y·width + x).
    public init(height: Int, width: Int, isForeground: (Int) -> Bool) {
        precondition(height >= 0 && width >= 0, "ConnectedComponents: negative size \(height)×\(width)")
        self.height = height
        self.width = width
        let n = height * width
        var fg = [Bool](repeating: false, count: n)
        for i in 0..<n { fg[i] = isForeground(i) }
        (labels, areas) = Self.label(fg, height: height, width: width)
    }

    /// Labels a row-major boolean image.
    public init(foreground: [Bool], height: Int, width: Int) {
        precondition(height >= 0 && width >= 0 && foreground.count == height * width,
                     "ConnectedComponents: \(foreground.count) pixels for \(height)×\(width)")
        self.height = height
        self.width = width
        (labels, areas) = Self.label(foreground, height: height, width: width)
    }

    /// Per-pixel area of the pixel's component, 0 on background (the `counts` output of SAM 2's kernel).
    public var pixelAreas: [Int32] { labels.map { Int32(areas[Int($0)]) } }

    /// Two-pass union-find. The root of every tree is the smallest pixel index of its component, so the
    /// second pass meets each root before any other pixel of its component and numbers components in raster
    /// order of their first pixel.
    private static func label(_ fg: [Bool], height h: Int, width w: Int) -> ([Int32], [Int]) {
        let n = h * w
        var labels = [Int32](repeating: 0, count: n)
        var areas = [0]
        guard n > 0 else { return (labels, areas) }
        var parent = [Int32](repeating: 0, count: n)
        // Kernel: parent/fg/labels all hold exactly n = h·w elements, and every index used is a pixel index
        // checked against the image bounds below.
        fg.withUnsafeBufferPointer { f in
            parent.withUnsafeMutableBufferPointer { p in
                func find(_ i: Int32) -> Int32 {
                    var i = i
                    while p[Int(i)] != i {
                        let g = p[Int(p[Int(i)])]
                        p[Int(i)] = g  // path halving
                        i = g
                    }
                    return i
                }
                func union(_ a: Int32, _ b: Int32) {
                    let ra = find(a), rb = find(b)
                    if ra < rb { p[Int(rb)] = ra } else if rb < ra { p[Int(ra)] = rb }
                }
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w where f[row + x] {
                        let i = Int32(row + x)
                        p[Int(i)] = i
                        if y > 0 && f[row - w + x] {
                            // The pixel above is 8-adjacent to the left, up-left and up-right pixels, which are
                            // therefore already in its component when they are foreground.
                            union(i, i - Int32(w))
                            continue
                        }
                        if x > 0 && f[row + x - 1] { union(i, i - 1) }
                        if y > 0 && x > 0 && f[row - w + x - 1] { union(i, i - Int32(w) - 1) }
                        if y > 0 && x + 1 < w && f[row - w + x + 1] { union(i, i - Int32(w) + 1) }
                    }
                }
                labels.withUnsafeMutableBufferPointer { l in
                    for i in 0..<n where f[i] {
                        let r = Int(find(Int32(i)))
                        if r == i {
                            areas.append(0)
                            l[i] = Int32(areas.count - 1)
                        } else {
                            l[i] = l[r]
                        }
                        areas[Int(l[i])] += 1
                    }
                }
            }
        }
        return (labels, areas)
    }

    /// SAM 2's `get_connected_components`: for masks [N, 1, H, W] (nonzero = foreground) returns per-pixel
    /// `labels` and component areas `counts`, both [N, 1, H, W]; masks are processed in parallel.
    public static func getConnectedComponents(_ mask: Tensor) -> (labels: Tensor, counts: Tensor) {
        precondition(mask.rank == 4 && mask.shape[1] == 1, "getConnectedComponents: needs [N, 1, H, W], got \(mask.shape)")
        let (n, h, w) = (mask.shape[0], mask.shape[2], mask.shape[3])
        let results = label(masks: mask, count: n, height: h, width: w) { $0 != 0 }
        var labels = Tensor(shape: mask.shape, repeating: 0)
        var counts = Tensor(shape: mask.shape, repeating: 0)
        for (k, cc) in results.enumerated() {
            for i in 0..<(h * w) {
                let l = Int(cc.labels[i])
                labels.data[k * h * w + i] = Float(l)
                counts.data[k * h * w + i] = Float(cc.areas[l])
            }
        }
        return (labels, counts)
    }

    /// Labels `count` stacked H×W planes of `masks` in parallel, foreground where `predicate(value)` holds.
    static func label(masks: Tensor, count: Int, height h: Int, width w: Int,
                      predicate: (Float) -> Bool) -> [ConnectedComponents] {
        let plane = h * w
        precondition(masks.count == count * plane, "ConnectedComponents: \(masks.shape) is not \(count)×\(h)×\(w)")
        let results = ResultBox<ConnectedComponents>(count: count)
        masks.withUnsafeBufferPointer { src in
            let s = src
            Parallel.forEach(count) { k in
                let base = k * plane
                var fg = [Bool](repeating: false, count: plane)
                for i in 0..<plane { fg[i] = predicate(s[base + i]) }
                results.set(k, ConnectedComponents(foreground: fg, height: h, width: w))
            }
        }
        return results.values
    }
}
