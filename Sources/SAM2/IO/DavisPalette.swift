/// The 256-entry DAVIS / PASCAL VOC colour map used by DAVIS annotation PNGs, where palette index = object id.
public enum DavisPalette {
    /// Colour of index `i`: bit k of i's three low-order bit groups goes to the high bits of R, G, B
    /// (0 → black, 1 → (128,0,0), 2 → (0,128,0), 3 → (128,128,0), …).
    public static func color(_ index: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        var r: UInt8 = 0, g: UInt8 = 0, b: UInt8 = 0
        var c = index
        for j in 0..<8 {
            let shift = UInt8(7 - j)
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        }
        return (r, g, b)
    }

    /// All 256 colours as flat RGB triplets (768 bytes), the layout of `IndexMask.palette` and PIL's `getpalette()`.
    public static let rgb: [UInt8] = (0..<256).flatMap { i -> [UInt8] in
        let c = color(UInt8(i))
        return [c.r, c.g, c.b]
    }
}
