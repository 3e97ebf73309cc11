/// A 3×5 pixel bitmap font for digits (and a few signs) so frame numbers can be drawn without a font library.
public enum BitmapFont {
    /// Glyph width and height in font pixels (before scaling).
    public static let glyphWidth = 3, glyphHeight = 5

    /// Rows of each glyph, top to bottom, 3 bits each (bit 2 = left column).
    static let glyphs: [Character: [UInt8]] = [
        "0": [0b111, 0b101, 0b101, 0b101, 0b111], "1": [0b010, 0b110, 0b010, 0b010, 0b111],
        "2": [0b111, 0b001, 0b111, 0b100, 0b111], "3": [0b111, 0b001, 0b111, 0b001, 0b111],
        "4": [0b101, 0b101, 0b111, 0b001, 0b001], "5": [0b111, 0b100, 0b111, 0b001, 0b111],
        "6": [0b111, 0b100, 0b111, 0b101, 0b111], "7": [0b111, 0b001, 0b010, 0b010, 0b010],
        "8": [0b111, 0b101, 0b111, 0b101, 0b111], "9": [0b111, 0b101, 0b111, 0b001, 0b111],
        "-": [0b000, 0b000, 0b111, 0b000, 0b000], ".": [0b000, 0b000, 0b000, 0b000, 0b010],
        "/": [0b001, 0b001, 0b010, 0b100, 0b100], " ": [0, 0, 0, 0, 0],
    ]

    /// Size in pixels of `text` drawn at `scale` (1 font pixel of spacing between glyphs).
    public static func size(of text: String, scale: Int) -> (width: Int, height: Int) {
        let n = text.count
        return (n == 0 ? 0 : (n * (glyphWidth + 1) - 1) * scale, glyphHeight * scale)
    }

    /// Draws `text` with its top-left corner at (x, y) in `color` (RGB; extra channels set to 255); characters
    /// without a glyph are skipped as blanks and pixels outside the image are clipped.
    public static func draw(_ text: String, into image: inout Image8, x: Int, y: Int, scale: Int = 1,
                            color: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        let s = max(1, scale)
        for (i, ch) in text.enumerated() {
            guard let rows = glyphs[ch] else { continue }
            let gx = x + i * (glyphWidth + 1) * s
            for (r, bits) in rows.enumerated() {
                for c in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - c)) != 0 {
                    Overlay.fillRect(&image, x0: gx + c * s, y0: y + r * s, x1: gx + (c + 1) * s, y1: y + (r + 1) * s, color: color)
                }
            }
        }
    }
}
