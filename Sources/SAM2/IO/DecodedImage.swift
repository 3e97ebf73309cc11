/// What a decoder produced: direct-colour samples, or palette indices with their palette.
public enum DecodedImage: Equatable, Sendable {
    /// Gray, gray+alpha, RGB or RGBA samples (every JPEG, non-palette PNGs).
    case pixels(Image8)
    /// Palette PNG: indices plus palette (and tRNS alphas).
    case indexed(IndexMask)

    /// Width in pixels.
    public var width: Int {
        switch self { case let .pixels(i): return i.width; case let .indexed(m): return m.width }
    }
    /// Height in pixels.
    public var height: Int {
        switch self { case let .pixels(i): return i.height; case let .indexed(m): return m.height }
    }

    /// 3-channel RGB as PIL's `convert("RGB")` gives it (palette looked up, gray replicated, alpha dropped).
    public var rgb: Image8 {
        switch self { case let .pixels(i): return i.rgb; case let .indexed(m): return m.rgb }
    }
}
