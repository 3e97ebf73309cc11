/// A simulated click in pixel coordinates (x = column, y = row), positive (add) or negative (remove).
public struct Click: Equatable, Sendable, Codable, CustomStringConvertible {
    /// Column.
    public var x: Int
    /// Row.
    public var y: Int
    /// True for a positive (foreground) click.
    public var positive: Bool

    /// A click at (x, y).
    public init(x: Int, y: Int, positive: Bool) { self.x = x; self.y = y; self.positive = positive }

    /// SAM 2's point label: 1 positive, 0 negative.
    public var label: Int { positive ? 1 : 0 }

    public var description: String { "\(positive ? "+" : "-")(\(x), \(y))" }
}

/// A box prompt in pixel coordinates (SAM 2's two corner points, labels 2 and 3).
public struct BoxPrompt: Equatable, Sendable, Codable {
    /// Top-left corner.
    public var x0: Double, y0: Double
    /// Bottom-right corner (inclusive pixel coordinates, as `mask_to_box`).
    public var x1: Double, y1: Double

    /// A box from its corners.
    public init(x0: Double, y0: Double, x1: Double, y1: Double) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
}
