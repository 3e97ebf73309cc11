/// The drawing surface of a chart: an RGB image with lines, rectangles and bitmap-font text, plus the
/// frame (axes, grid, ticks, title, axis labels, legend) every chart shares.
struct PlotCanvas {
    var image: Image8
    /// Font scale of labels (glyphs are 3×5 font pixels).
    let scale = 2
    static let background: (UInt8, UInt8, UInt8) = (255, 255, 255)
    static let ink: (UInt8, UInt8, UInt8) = (40, 40, 40)
    static let grid: (UInt8, UInt8, UInt8) = (225, 225, 225)

    init(width: Int, height: Int) {
        image = Image8(width: width, height: height, channels: 3, repeating: 255)
    }

    var lineHeight: Int { (BitmapFont.glyphHeight + 3) * scale }

    func textWidth(_ s: String) -> Int { BitmapFont.size(of: s, scale: scale).width }

    mutating func text(_ s: String, x: Int, y: Int, color: (UInt8, UInt8, UInt8) = PlotCanvas.ink) {
        BitmapFont.draw(s, into: &image, x: x, y: y, scale: scale, color: color)
    }

    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
        Overlay.fillRect(&image, x0: x0, y0: y0, x1: x1, y1: y1, color: color)
    }

    /// A segment `thickness` pixels wide (a square brush stepped along the longer axis).
    mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ color: (UInt8, UInt8, UInt8), thickness: Int = 2) {
        guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { return }
        let steps = max(1, Int(max(abs(x1 - x0), abs(y1 - y0)).rounded(.up)))
        let lo = thickness / 2, hi = thickness - lo
        for i in 0...steps {
            let t = Double(i) / Double(steps)
            let x = Int((x0 + (x1 - x0) * t).rounded()), y = Int((y0 + (y1 - y0) * t).rounded())
            fill(x - lo, y - lo, x + hi, y + hi, color)
        }
    }

    /// The plot area and value → pixel mapping of a chart with the given y range and x range.
    struct Frame {
        var left: Int, top: Int, right: Int, bottom: Int
        var xRange: (Double, Double), yRange: (Double, Double)

        func x(_ v: Double) -> Double {
            let span = xRange.1 - xRange.0
            return Double(left) + (span > 0 ? (v - xRange.0) / span : 0.5) * Double(right - left)
        }

        func y(_ v: Double) -> Double {
            let span = yRange.1 - yRange.0
            return Double(bottom) - (span > 0 ? (v - yRange.0) / span : 0.5) * Double(bottom - top)
        }
    }

    /// One legend line: a colour swatch (nil: none) and its text.
    struct LegendEntry { var color: (UInt8, UInt8, UInt8)?; var text: String }

    /// Lays out title, y ticks, legend and bottom labels; draws grid, axes, ticks and labels; returns the plot area.
    /// `bottomRows` is the number of text rows under the x axis (tick labels, category labels).
    mutating func drawFrame(title: String, xLabel: String, yLabel: String, yTicks: (values: [Double], step: Double),
                            xRange: (Double, Double), bottomRows: Int, legend: [LegendEntry]) -> Frame {
        let w = image.width, h = image.height, pad = 3 * scale
        let tickLabels = yTicks.values.map { Plot.format($0, step: yTicks.step) }
        let tickWidth = tickLabels.map(textWidth).max() ?? 0
        // Room above the plot area for the title, the y label and half of the top tick label.
        let top = pad + (title.isEmpty ? 0 : lineHeight) + (yLabel.isEmpty ? 0 : lineHeight) + (BitmapFont.glyphHeight + 1) * scale / 2 + scale
        let left = pad + tickWidth + 3 * scale
        // The legend takes at most 40 % of the width; longer names are shortened.
        var legendWidth = 0
        if !legend.isEmpty {
            let swatch = 6 * scale
            let widest = legend.map { textWidth($0.text) + ($0.color == nil ? 0 : swatch) }.max() ?? 0
            legendWidth = min(widest, w * 2 / 5) + 2 * pad
        }
        let right = w - pad - legendWidth
        let bottom = h - pad - bottomRows * lineHeight - (xLabel.isEmpty ? 0 : lineHeight)
        let frame = Frame(left: left, top: top, right: max(left + 1, right), bottom: max(top + 1, bottom),
                          xRange: xRange, yRange: (yTicks.values.first ?? 0, yTicks.values.last ?? 1))
        if !title.isEmpty { text(Plot.fit(title, width: w - 2 * pad, scale: scale), x: max(pad, (w - textWidth(title)) / 2), y: pad) }
        if !yLabel.isEmpty { text(Plot.fit(yLabel, width: w - 2 * pad, scale: scale), x: pad, y: pad + (title.isEmpty ? 0 : lineHeight)) }
        for (v, label) in zip(yTicks.values, tickLabels) {
            let y = Int(frame.y(v).rounded())
            fill(frame.left, y, frame.right, y + 1, PlotCanvas.grid)
            fill(frame.left - 2 * scale, y, frame.left, y + 1, PlotCanvas.ink)
            text(label, x: frame.left - 3 * scale - textWidth(label), y: y - BitmapFont.glyphHeight * scale / 2)
        }
        fill(frame.left - 1, frame.top, frame.left, frame.bottom + 1, PlotCanvas.ink)
        fill(frame.left - 1, frame.bottom, frame.right, frame.bottom + 1, PlotCanvas.ink)
        if !xLabel.isEmpty {
            let s = Plot.fit(xLabel, width: frame.right - frame.left, scale: scale)
            text(s, x: (frame.left + frame.right - textWidth(s)) / 2, y: frame.bottom + pad + bottomRows * lineHeight)
        }
        if !legend.isEmpty {
            let x0 = frame.right + 2 * pad
            for (i, entry) in legend.enumerated() {
                let y = frame.top + i * lineHeight
                guard y + lineHeight <= h else { break }
                var tx = x0
                if let c = entry.color {
                    fill(x0, y, x0 + 4 * scale, y + 4 * scale, c)
                    tx += 6 * scale
                }
                text(Plot.fit(entry.text, width: w - tx - pad, scale: scale), x: tx, y: y)
            }
        }
        return frame
    }
}
