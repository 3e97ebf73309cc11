import Foundation

/// A binary mask of one object (true = object), row-major; the currency of prompt simulation and overlays.
public struct BinaryMask: Equatable, Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major pixels, count == width·height.
    public var bits: [Bool]

    /// An empty (all-false) mask.
    public init(width: Int, height: Int) {
        precondition(width >= 0 && height >= 0, "BinaryMask: bad size \(width)×\(height)")
        self.width = width; self.height = height
        bits = [Bool](repeating: false, count: width * height)
    }

    /// Wraps existing bits; throws if the count does not match the size.
    public init(width: Int, height: Int, bits: [Bool]) throws {
        guard width >= 0, height >= 0, bits.count == width * height else {
            throw ImageIOError.invalidArgument("BinaryMask \(width)×\(height) needs \(max(0, width * height)) bits, got \(bits.count)")
        }
        self.width = width; self.height = height; self.bits = bits
    }

    /// The pixels of `mask` whose index equals `id`.
    public init(_ mask: IndexMask, id: Int) {
        width = mask.width; height = mask.height
        bits = mask.indices.map { Int($0) == id }
    }

    /// Pixels where a [H, W] tensor exceeds `threshold` (0 for logits, 0.5 for probabilities).
    public init(tensor: Tensor, threshold: Float = 0) throws {
        guard tensor.rank == 2 else { throw ImageIOError.invalidArgument("BinaryMask(tensor:) needs shape [H,W], got \(tensor.shape)") }
        height = tensor.shape[0]; width = tensor.shape[1]
        bits = tensor.data.map { $0 > threshold }
    }

    /// Pixel at row `y`, column `x`.
    @inlinable public subscript(y: Int, x: Int) -> Bool {
        get { bits[y * width + x] }
        set { bits[y * width + x] = newValue }
    }

    /// Number of true pixels.
    public var area: Int { bits.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Inclusive pixel bounds (minX, minY, maxX, maxY) of the true pixels, nil when empty.
    public var bounds: (minX: Int, minY: Int, maxX: Int, maxY: Int)? {
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        for y in 0..<height {
            for x in 0..<width where bits[y * width + x] {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = y
            }
        }
        return maxX < 0 ? nil : (minX, minY, maxX, maxY)
    }

    /// [H, W] Float tensor of 0/1 (the mask prompt SAM 2 takes as `mask_inputs`).
    public func toTensor() -> Tensor { Tensor(shape: [height, width], data: bits.map { $0 ? 1 : 0 }) }
}
