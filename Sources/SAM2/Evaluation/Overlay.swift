import Foundation

/// Visual checks: a frame with its masks tinted in DAVIS palette colours, 1-px outlines, and the prompts.
public enum Overlay {
    /// How clicks are drawn.
    public enum Marker: Sendable { case disc, star }

    /// Drawing options.
    public struct Style: Sendable {
        /// Mask opacity inside the object.
        public var alpha = 0.5
        /// Draw each object's 1-px boundary in its opaque palette colour.
        public var outline = true
        /// Click marker radius in pixels (a 1-px white rim is drawn around it).
        public var clickRadius = 5
        /// Click marker shape.
        public var marker = Marker.disc
        /// Positive click colour.
        public var positiveColor: (UInt8, UInt8, UInt8) = (0, 255, 0)
        /// Negative click colour.
        public var negativeColor: (UInt8, UInt8, UInt8) = (255, 0, 0)
        /// Box colour.
        public var boxColor: (UInt8, UInt8, UInt8) = (0, 255, 255)
        /// Box line thickness in pixels (drawn inward from the box edges).
        public var boxThickness = 2
        /// Defaults: alpha 0.5, outline, 5-px discs, green/red clicks, cyan 2-px boxes.
        public init() {}
    }

    /// The frame (as RGB) with `mask`'s objects blended at `style.alpha` in their palette colours (mask's
    /// own palette, DAVIS when it has none), outlined, then boxes and clicks drawn on top.
    public static func render(frame: Image8, mask: IndexMask? = nil, clicks: [Click] = [], boxes: [BoxPrompt] = [],
                              style: Style = Style()) -> Image8 {
        var out = frame.rgb
        if let mask {
            precondition(mask.width == out.width && mask.height == out.height,
                         "Overlay: mask \(mask.width)×\(mask.height) vs frame \(out.width)×\(out.height)")
            blend(&out, mask: mask, style: style)
        }
        for b in boxes { drawBox(b, into: &out, style: style) }
        for c in clicks { drawClick(c, into: &out, style: style) }
        return out
    }

    /// Per-object binary masks drawn with DAVIS colours of `ids` (later masks on top).
    public static func render(frame: Image8, masks: [BinaryMask], ids: [Int], clicks: [Click] = [],
                              boxes: [BoxPrompt] = [], style: Style = Style()) -> Image8 {
        var m = IndexMask(width: frame.width, height: frame.height)
        for (mask, id) in zip(masks, ids) where mask.width == frame.width && mask.height == frame.height {
            for i in 0..<mask.bits.count where mask.bits[i] { m.indices[i] = UInt8(clamping: id) }
        }
        return render(frame: frame, mask: m, clicks: clicks, boxes: boxes, style: style)
    }

    static func blend(_ image: inout Image8, mask: IndexMask, style: Style) {
        let w = mask.width, h = mask.height
        var lut = DavisPalette.rgb
        for i in 0..<min(mask.palette.count, 768) { lut[i] = mask.palette[i] }
        let a = max(0, min(1, style.alpha)), outline = style.outline
        mask.indices.withUnsafeBufferPointer { m in
            image.pixels.withUnsafeMutableBufferPointer { img in
                // m holds w·h indices, img w·h RGB triplets; each chunk writes its own rows.
                let (m, img) = (m, img)
                Parallel.forChunks(h, grain: 32) { rows in
                    for y in rows {
                        for x in 0..<w {
                            let p = y * w + x, id = m[p]
                            if id == 0 { continue }
                            let edge = outline && (
                                (x > 0 && m[p - 1] != id) || (x + 1 < w && m[p + 1] != id) ||
                                (y > 0 && m[p - w] != id) || (y + 1 < h && m[p + w] != id))
                            let t = edge ? 1 : a
                            for c in 0..<3 {
                                let v = (1 - t) * Double(img[3 * p + c]) + t * Double(lut[3 * Int(id) + c])
                                img[3 * p + c] = UInt8(max(0, min(255, v.rounded())))
                            }
                        }
                    }
                }
            }
        }
    }

    /// Draws one click marker (disc or five-pointed star with a white rim) centred on the click's pixel.
    public static func drawClick(_ click: Click, into image: inout Image8, style: Style = Style()) {
        let r = max(1, style.clickRadius)
        let color = click.positive ? style.positiveColor : style.negativeColor
        for dy in -(r + 1)...(r + 1) {
            for dx in -(r + 1)...(r + 1) {
                let inner: Bool, rim: Bool
                switch style.marker {
                case .disc:
                    let d2 = dx * dx + dy * dy
                    inner = d2 <= r * r; rim = !inner && d2 <= (r + 1) * (r + 1)
                case .star:
                    inner = inStar(Double(dx), Double(dy), Double(r))
                    rim = !inner && inStar(Double(dx), Double(dy), Double(r) + 1.5)
                }
                if inner { setPixel(&image, click.x + dx, click.y + dy, color) }
                else if rim { setPixel(&image, click.x + dx, click.y + dy, (255, 255, 255)) }
            }
        }
    }

    /// Draws a box outline `style.boxThickness` pixels wide inside the rounded corner pixels.
    public static func drawBox(_ box: BoxPrompt, into image: inout Image8, style: Style = Style()) {
        let x0 = Int(box.x0.rounded()), y0 = Int(box.y0.rounded()), x1 = Int(box.x1.rounded()), y1 = Int(box.y1.rounded())
        let t = max(1, style.boxThickness), c = style.boxColor
        fillRect(&image, x0: x0, y0: y0, x1: x1 + 1, y1: y0 + t, color: c)
        fillRect(&image, x0: x0, y0: y1 + 1 - t, x1: x1 + 1, y1: y1 + 1, color: c)
        fillRect(&image, x0: x0, y0: y0, x1: x0 + t, y1: y1 + 1, color: c)
        fillRect(&image, x0: x1 + 1 - t, y0: y0, x1: x1 + 1, y1: y1 + 1, color: c)
    }

    /// Fills the half-open rectangle [x0, x1) × [y0, y1), clipped to the image (alpha/extra channels → 255).
    public static func fillRect(_ image: inout Image8, x0: Int, y0: Int, x1: Int, y1: Int, color: (UInt8, UInt8, UInt8)) {
        let xa = max(0, x0), xb = min(image.width, x1), ya = max(0, y0), yb = min(image.height, y1)
        guard xa < xb, ya < yb else { return }
        for y in ya..<yb { for x in xa..<xb { setPixel(&image, x, y, color) } }
    }

    @inline(__always) static func setPixel(_ image: inout Image8, _ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        let c = image.channels, o = (y * image.width + x) * c
        if c < 3 {
            let r: Int = Int(color.0) * 299, g: Int = Int(color.1) * 587, b: Int = Int(color.2) * 114
            image.pixels[o] = UInt8((r + g + b) / 1000)
            if c == 2 { image.pixels[o + 1] = 255 }
            return
        }
        image.pixels[o] = color.0; image.pixels[o + 1] = color.1; image.pixels[o + 2] = color.2
        if c == 4 { image.pixels[o + 3] = 255 }
    }

    /// Five-pointed star (inner radius 0.45·r, a point straight up) containing (x, y)?
    static func inStar(_ x: Double, _ y: Double, _ r: Double) -> Bool {
        if x * x + y * y > r * r { return false }
        var inside = false
        let n = 10
        func vertex(_ k: Int) -> (Double, Double) {
            let a = -Double.pi / 2 + Double(k) * Double.pi / 5, rr = k % 2 == 0 ? r : 0.45 * r
            return (rr * Foundation.cos(a), rr * Foundation.sin(a))
        }
        var j = n - 1
        for i in 0..<n {
            let (xi, yi) = vertex(i), (xj, yj) = vertex(j)
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi { inside.toggle() }
            j = i
        }
        return inside || (x == 0 && y == 0)
    }
}
