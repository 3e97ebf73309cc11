/// A bar chart of categories (e.g. the variants of an ablation), one bar per series in each category, with
/// optional error bars (± one standard deviation).
public struct BarChart: Sendable {
    /// One named series: a value per category and optional error half-lengths.
    public struct Series: Sendable {
        public var name: String
        public var values: [Double]
        public var errors: [Double]?
        /// A series with a value (and optional error) per category.
        public init(name: String, values: [Double], errors: [Double]? = nil) {
            self.name = name; self.values = values; self.errors = errors
        }
    }

    public var title = ""
    public var xLabel = ""
    public var yLabel = ""
    public var categories: [String] = []
    public var series: [Series] = []
    public var width = 640
    public var height = 400
    /// Fixed y range (nil: from the data, always including 0).
    public var yMin: Double? = nil, yMax: Double? = nil

    /// An empty chart; set its fields.
    public init(title: String = "", xLabel: String = "", yLabel: String = "", categories: [String] = [], series: [Series] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.categories = categories; self.series = series
    }

    /// Renders the chart (RGB, `width`×`height`). With one series each bar has its own colour; category names
    /// that do not fit under their bars are replaced by numbers and listed in the legend.
    public func render() throws -> Image8 {
        try Plot.checkSize(width, height)
        guard !categories.isEmpty else { throw PlotError.invalid("categories: at least one expected") }
        guard !series.isEmpty else { throw PlotError.invalid("series: at least one series expected") }
        var lo = 0.0, hi = 0.0
        for (i, s) in series.enumerated() {
            guard s.values.count == categories.count else {
                throw PlotError.invalid("series \(i + 1) ('\(s.name)'): \(s.values.count) values for \(categories.count) categories")
            }
            if let e = s.errors, e.count != categories.count {
                throw PlotError.invalid("series \(i + 1) ('\(s.name)'): \(e.count) errors for \(categories.count) categories")
            }
            for (k, v) in s.values.enumerated() where v.isFinite {
                let e = s.errors.map { $0[k].isFinite ? abs($0[k]) : 0 } ?? 0
                lo = min(lo, v - e); hi = max(hi, v + e)
            }
        }
        let yTicks = Plot.ticks(yMin ?? lo, yMax ?? hi)
        var canvas = PlotCanvas(width: width, height: height)
        let single = series.count == 1
        // Does every category name fit under its group? (Estimated with the widest possible plot area.)
        let slotEstimate = (width - 60) / categories.count - 2 * canvas.scale
        let namesFit = categories.allSatisfy { canvas.textWidth($0) <= slotEstimate }
        var legend: [PlotCanvas.LegendEntry] = []
        if !single {
            legend = series.enumerated().map { .init(color: Plot.color($0.offset), text: $0.element.name) }
        }
        if !namesFit {
            legend += categories.enumerated().map { .init(color: single ? Plot.color($0.offset) : nil, text: "\($0.offset + 1) \($0.element)") }
        }
        let frame = canvas.drawFrame(title: title, xLabel: xLabel, yLabel: yLabel, yTicks: yTicks,
                                     xRange: (0, Double(categories.count)), bottomRows: 1, legend: legend)
        let slot = Double(frame.right - frame.left) / Double(categories.count)
        let barWidth = slot * 0.8 / Double(series.count)
        let zero = frame.y(max(frame.yRange.0, min(frame.yRange.1, 0)))
        for (k, name) in categories.enumerated() {
            let x0 = Double(frame.left) + slot * (Double(k) + 0.1)
            for (i, s) in series.enumerated() {
                let v = s.values[k]
                guard v.isFinite else { continue }
                let color = single ? Plot.color(k) : Plot.color(i)
                let bx0 = x0 + barWidth * Double(i), bx1 = bx0 + barWidth
                let y = frame.y(v)
                canvas.fill(Int(bx0.rounded()), Int(min(y, zero).rounded()), max(Int(bx0.rounded()) + 1, Int(bx1.rounded()) - 1),
                            max(Int(min(y, zero).rounded()) + 1, Int(max(y, zero).rounded())), color)
                if let e = s.errors?[k], e.isFinite, e > 0 {
                    let cx = (bx0 + bx1) / 2, cap = max(2, barWidth / 5)
                    let ya = frame.y(v - abs(e)), yb = frame.y(v + abs(e))
                    canvas.line(cx, ya, cx, yb, PlotCanvas.ink, thickness: 1)
                    canvas.line(cx - cap, ya, cx + cap, ya, PlotCanvas.ink, thickness: 1)
                    canvas.line(cx - cap, yb, cx + cap, yb, PlotCanvas.ink, thickness: 1)
                }
            }
            let label = namesFit ? name : String(k + 1)
            let s = Plot.fit(label, width: Int(slot) - canvas.scale, scale: canvas.scale)
            let cx = Int((Double(frame.left) + slot * (Double(k) + 0.5)).rounded())
            canvas.text(s, x: cx - canvas.textWidth(s) / 2, y: frame.bottom + 3 * canvas.scale)
        }
        return canvas.image
    }
}
