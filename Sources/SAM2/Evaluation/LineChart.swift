/// A line chart: one polyline per series (NaN values break the line), nice ticks on both axes, a legend.
public struct LineChart: Sendable {
    /// One named series; `x` nil means 0, 1, 2, … (frame indices).
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]?
        public var y: [Double]
        /// A series of values at x = `x` (or at their indices).
        public init(name: String, x: [Double]? = nil, y: [Double]) { self.name = name; self.x = x; self.y = y }
    }

    public var title = ""
    public var xLabel = ""
    public var yLabel = ""
    public var series: [Series] = []
    public var width = 640
    public var height = 400
    /// Fixed y range (nil: from the data).
    public var yMin: Double? = nil, yMax: Double? = nil
    /// Draw a small square at every point (default: when a series has at most 40 points).
    public var markers: Bool? = nil

    /// An empty chart; set its fields.
    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [Series] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    /// Renders the chart (RGB, `width`×`height`).
    public func render() throws -> Image8 {
        try Plot.checkSize(width, height)
        guard !series.isEmpty else { throw PlotError.invalid("series: at least one series expected") }
        var xs: [Double] = [], ys: [Double] = []
        for (i, s) in series.enumerated() {
            if let x = s.x, x.count != s.y.count {
                throw PlotError.invalid("series \(i + 1) ('\(s.name)'): \(x.count) x values for \(s.y.count) y values")
            }
            for (k, v) in s.y.enumerated() where v.isFinite {
                let x = s.x?[k] ?? Double(k)
                guard x.isFinite else { continue }
                xs.append(x); ys.append(v)
            }
        }
        let yTicks = Plot.ticks(yMin ?? ys.min() ?? 0, yMax ?? ys.max() ?? 1)
        let xTicks = Plot.ticks(xs.min() ?? 0, xs.max() ?? 1, target: 6)
        var canvas = PlotCanvas(width: width, height: height)
        let legend = series.enumerated().map { PlotCanvas.LegendEntry(color: Plot.color($0.offset), text: $0.element.name) }
        let frame = canvas.drawFrame(title: title, xLabel: xLabel, yLabel: yLabel, yTicks: yTicks,
                                     xRange: (xTicks.values.first ?? 0, xTicks.values.last ?? 1), bottomRows: 1, legend: legend)
        var lastRight = Int.min
        for v in xTicks.values {
            let x = Int(frame.x(v).rounded())
            canvas.fill(x, frame.bottom, x + 1, frame.bottom + 2 * canvas.scale, PlotCanvas.ink)
            let label = Plot.format(v, step: xTicks.step), lw = canvas.textWidth(label)
            // Skip labels that would overlap their left neighbour.
            guard x - lw / 2 > lastRight + canvas.scale * 2 else { continue }
            canvas.text(label, x: x - lw / 2, y: frame.bottom + 3 * canvas.scale)
            lastRight = x - lw / 2 + lw
        }
        for (i, s) in series.enumerated() {
            let color = Plot.color(i)
            let showMarkers = markers ?? (s.y.count <= 40)
            var previous: (Double, Double)? = nil
            for (k, v) in s.y.enumerated() {
                let xv = s.x?[k] ?? Double(k)
                guard v.isFinite, xv.isFinite else { previous = nil; continue }
                // Values beyond a set y_min / y_max are drawn at the plot area's edge, not over the title.
                let p = (frame.x(xv), min(max(frame.y(v), Double(frame.top)), Double(frame.bottom)))
                if let q = previous { canvas.line(q.0, q.1, p.0, p.1, color) }
                else { canvas.line(p.0, p.1, p.0, p.1, color) }
                if showMarkers {
                    let r = canvas.scale + 1
                    canvas.fill(Int(p.0.rounded()) - r, Int(p.1.rounded()) - r, Int(p.0.rounded()) + r + 1, Int(p.1.rounded()) + r + 1, color)
                }
                previous = p
            }
        }
        return canvas.image
    }
}
