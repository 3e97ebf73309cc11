/// A 3×5 pixel bitmap font (digits, capital letters, common signs) so frame numbers and plot labels can be
/// drawn without a font library. Lowercase letters are drawn with the capital glyphs.
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
        "A": [0b010, 0b101, 0b111, 0b101, 0b101], "B": [0b110, 0b101, 0b110, 0b101, 0b110],
        "C": [0b011, 0b100, 0b100, 0b100, 0b011], "D": [0b110, 0b101, 0b101, 0b101, 0b110],
        "E": [0b111, 0b100, 0b110, 0b100, 0b111], "F": [0b111, 0b100, 0b110, 0b100, 0b100],
        "G": [0b011, 0b100, 0b101, 0b101, 0b011], "H": [0b101, 0b101, 0b111, 0b101, 0b101],
        "I": [0b111, 0b010, 0b010, 0b010, 0b111], "J": [0b001, 0b001, 0b001, 0b101, 0b010],
        "K": [0b101, 0b101, 0b110, 0b101, 0b101], "L": [0b100, 0b100, 0b100, 0b100, 0b111],
        "M": [0b101, 0b111, 0b111, 0b101, 0b101], "N": [0b110, 0b101, 0b101, 0b101, 0b101],
        "O": [0b010, 0b101, 0b101, 0b101, 0b010], "P": [0b110, 0b101, 0b110, 0b100, 0b100],
        "Q": [0b010, 0b101, 0b101, 0b110, 0b011], "R": [0b110, 0b101, 0b110, 0b101, 0b101],
        "S": [0b011, 0b100, 0b010, 0b001, 0b110], "T": [0b111, 0b010, 0b010, 0b010, 0b010],
        "U": [0b101, 0b101, 0b101, 0b101, 0b111], "V": [0b101, 0b101, 0b101, 0b101, 0b010],
        "W": [0b101, 0b101, 0b111, 0b111, 0b101], "X": [0b101, 0b101, 0b010, 0b101, 0b101],
        "Y": [0b101, 0b101, 0b010, 0b010, 0b010], "Z": [0b111, 0b001, 0b010, 0b100, 0b111],
        "=": [0b000, 0b111, 0b000, 0b111, 0b000], ",": [0b000, 0b000, 0b000, 0b010, 0b100],
        ":": [0b000, 0b010, 0b000, 0b010, 0b000], "_": [0b000, 0b000, 0b000, 0b000, 0b111],
        "(": [0b001, 0b010, 0b010, 0b010, 0b001], ")": [0b100, 0b010, 0b010, 0b010, 0b100],
        "[": [0b011, 0b010, 0b010, 0b010, 0b011], "]": [0b110, 0b010, 0b010, 0b010, 0b110],
        "%": [0b101, 0b001, 0b010, 0b100, 0b101], "+": [0b000, 0b010, 0b111, 0b010, 0b000],
        "<": [0b001, 0b010, 0b100, 0b010, 0b001], ">": [0b100, 0b010, 0b001, 0b010, 0b100],
        "#": [0b101, 0b111, 0b101, 0b111, 0b101], "*": [0b101, 0b010, 0b101, 0b000, 0b000],
        "'": [0b010, 0b010, 0b000, 0b000, 0b000], "\"": [0b101, 0b101, 0b000, 0b000, 0b000],
        "!": [0b010, 0b010, 0b010, 0b000, 0b010], "?": [0b110, 0b001, 0b010, 0b000, 0b010],
        "|": [0b010, 0b010, 0b010, 0b010, 0b010], "&": [0b010, 0b101, 0b010, 0b101, 0b011],
        "±": [0b010, 0b111, 0b010, 0b000, 0b111], "×": [0b000, 0b101, 0b010, 0b101, 0b000],
        "{": [0b011, 0b010, 0b110, 0b010, 0b011], "}": [0b110, 0b010, 0b011, 0b010, 0b110],
        "^": [0b010, 0b101, 0b000, 0b000, 0b000], "~": [0b000, 0b011, 0b110, 0b000, 0b000],
    ]

    /// The rows of `ch`'s glyph (lowercase falls back to the capital), nil when the font has none.
    public static func glyph(_ ch: Character) -> [UInt8]? {
        if let g = glyphs[ch] { return g }
        guard ch.isLowercase, let upper = ch.uppercased().first else { return nil }
        return glyphs[upper]
    }

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
            guard let rows = glyph(ch) else { continue }
            let gx = x + i * (glyphWidth + 1) * s
            for (r, bits) in rows.enumerated() {
                for c in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - c)) != 0 {
                    Overlay.fillRect(&image, x0: gx + c * s, y0: y + r * s, x1: gx + (c + 1) * s, y1: y + (r + 1) * s, color: color)
                }
            }
        }
    }
}
