import Foundation

/// Dependency-free charts of result tables (line charts of per-frame series, bar charts of ablations) drawn
/// into an RGB `Image8` with the bitmap font; `PNG.encode` / `ImageIO.write` save them.
public enum Plot {
    /// A fixed qualitative palette (Tableau 10): neighbours stay distinguishable, also for colour-blind readers.
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]

    /// Colour `i` of the palette (cycling).
    public static func color(_ i: Int) -> (UInt8, UInt8, UInt8) { palette[((i % palette.count) + palette.count) % palette.count] }

    /// Allowed image sizes (the layout needs room for ticks, labels and a legend).
    public static let sizeRange = (width: 160...8192, height: 120...8192)

    /// "Nice" tick positions (1, 2, 5 × 10ᵏ steps) covering [lo, hi] with about `target` intervals; the range is
    /// widened to whole steps. A degenerate range is widened around its value.
    public static func ticks(_ lo: Double, _ hi: Double, target: Int = 5) -> (values: [Double], step: Double) {
        var (a, b) = (min(lo, hi), max(lo, hi))
        if !(b - a > 1e-12 * max(1, abs(a))) { a -= max(0.5, abs(a) * 0.1); b += max(0.5, abs(b) * 0.1) }
        let raw = (b - a) / Double(max(1, target))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
        let first = floor(a / step + 1e-9), last = ceil(b / step - 1e-9)
        return (stride(from: first, through: last, by: 1).map { $0 * step }, step)
    }

    /// A tick label with as many decimals as the step needs ("0.25", "10", "-1.5").
    public static func format(_ v: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
        let s = String(format: "%.\(decimals)f", abs(v) < step * 1e-6 ? 0 : v)
        return s
    }

    /// `text` shortened with ".." so that it is at most `width` pixels wide at `scale`.
    static func fit(_ text: String, width: Int, scale: Int) -> String {
        let advance = (BitmapFont.glyphWidth + 1) * scale
        let maxChars = max(0, (width + scale) / advance)
        if text.count <= maxChars { return text }
        return maxChars <= 2 ? String(text.prefix(maxChars)) : String(text.prefix(maxChars - 2)) + ".."
    }

    static func checkSize(_ width: Int, _ height: Int) throws {
        guard sizeRange.width.contains(width), sizeRange.height.contains(height) else {
            throw PlotError.invalid("size \(width)×\(height) outside \(sizeRange.width.lowerBound)…\(sizeRange.width.upperBound) × \(sizeRange.height.lowerBound)…\(sizeRange.height.upperBound)")
        }
    }
}

/// Bad chart input (empty series, mismatched lengths, sizes out of range); the message names the field.
public enum PlotError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self { case let .invalid(m): return "plot: " + m }
    }
}
