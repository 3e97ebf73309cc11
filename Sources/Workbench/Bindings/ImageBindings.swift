import Foundation
import SAM2

/// An RGB image held by Lua (`sam2.image`).
public final class ImageObject: LuaObject {
    override public class var luaTypeName: String { "sam2.image" }
    /// The pixels (RGB, 8-bit).
    public let image: Image8
    /// Wraps an image.
    public init(_ image: Image8) { self.image = image }
    override public var luaDescription: String { "sam2.image \(image.width)×\(image.height)" }
}

/// A binary mask held by Lua (`sam2.mask`), with the model's score and low-res logits when it came from one.
public final class MaskObject: LuaObject {
    override public class var luaTypeName: String { "sam2.mask" }
    /// The pixels.
    public let mask: BinaryMask
    /// Predicted IoU (segment / everything), nil for masks read from files.
    public let score: Double?
    /// Stability score (everything only).
    public let stability: Double?
    /// Low-resolution logits [1, 4h, 4w] the model produced with this mask (a mask prompt for the next call).
    public let logits: Tensor?
    private lazy var cachedArea = mask.area
    private lazy var cachedBounds = mask.bounds

    /// Wraps a mask with its optional scores and logits.
    public init(_ mask: BinaryMask, score: Double? = nil, stability: Double? = nil, logits: Tensor? = nil) {
        self.mask = mask; self.score = score; self.stability = stability; self.logits = logits
    }

    /// Foreground pixels.
    public var area: Int { cachedArea }
    /// Inclusive pixel bounds {x0, y0, x1, y1}, nil when empty.
    public var bbox: [Int]? { cachedBounds.map { [$0.minX, $0.minY, $0.maxX, $0.maxY] } }

    override public var luaDescription: String {
        var s = "sam2.mask \(mask.width)×\(mask.height) area=\(area)"
        s += " bbox=" + (bbox.map { "{" + $0.map(String.init).joined(separator: ", ") + "}" } ?? "nil")
        if let score { s += String(format: " score=%.4f", score) }
        return s
    }

    /// The mask packed for the DAVIS metrics.
    var bitMask: BitMask { (try? BitMask(width: mask.width, height: mask.height, bits: mask.bits)) ?? BitMask(width: 0, height: 0) }
}

/// Errors of the Lua bindings that are not argument errors.
public enum BindingError: Error, CustomStringConvertible, Equatable {
    case sizeMismatch(what: String, expected: String, got: String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .sizeMismatch(what, expected, got): return "\(what): size \(got) does not match \(expected)"
        case let .invalid(message): return message
        }
    }
}

enum Files {
    /// Creates the folder that will hold `path` (so scripts can write into fresh output folders).
    static func prepareParent(of path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        catch { throw ImageIOError.unwritable(path: path, reason: "cannot create folder \(dir): \(error.localizedDescription)") }
    }
}

enum ImageBindings {
    static func install(into state: LuaState) {
        state.defineType(ImageObject.self, methods: [
            ("save", { call, me in
                let path = try call.string(2)
                try Files.prepareParent(of: path)
                try ImageIO.write(me.image, to: path)
                return [.string(path)]
            }),
        ], properties: [
            ("width", { .int($0.image.width) }),
            ("height", { .int($0.image.height) }),
            ("channels", { .int($0.image.channels) }),
        ])

        state.defineType(MaskObject.self, methods: [
            ("iou", { call, me in
                let other = try call.object(2, MaskObject.self)
                try sameSize(me, other, call.argumentError(2, "mask \(other.mask.width)×\(other.mask.height) does not match \(me.mask.width)×\(me.mask.height)"))
                return [.number(RegionSimilarity.jaccard(annotation: me.bitMask, segmentation: other.bitMask))]
            }),
            ("save", { call, me in
                let path = try call.string(2)
                let pixels = me.mask.bits.map { $0 ? UInt8(255) : 0 }
                let image = try Image8(width: me.mask.width, height: me.mask.height, channels: 1, pixels: pixels)
                try Files.prepareParent(of: path)
                try ImageIO.write(image, to: path)
                return [.string(path)]
            }),
            ("overlay", { call, me in
                let image = try call.object(2, ImageObject.self)
                let path = try call.string(3)
                let o = try call.options(4, known: ["alpha", "outline"])
                guard image.image.width == me.mask.width, image.image.height == me.mask.height else {
                    throw call.argumentError(2, "image \(image.image.width)×\(image.image.height) does not match mask \(me.mask.width)×\(me.mask.height)")
                }
                var style = Overlay.Style()
                if let a = try o.number("alpha") { style.alpha = a }
                if let b = try o.bool("outline") { style.outline = b }
                let out = Overlay.render(frame: image.image, masks: [me.mask], ids: [1], style: style)
                try Files.prepareParent(of: path)
                try ImageIO.write(out, to: path)
                return [.string(path)]
            }),
            ("tensor", { _, me in [.object(TensorObject(me.mask.toTensor()))] }),
        ], properties: [
            ("width", { .int($0.mask.width) }),
            ("height", { .int($0.mask.height) }),
            ("area", { .int($0.area) }),
            ("bbox", { m in m.bbox.map { .array($0.map { .int($0) }) } ?? .nil }),
            ("score", { m in m.score.map { .number($0) } ?? .nil }),
            ("stability", { m in m.stability.map { .number($0) } ?? .nil }),
            ("logits", { m in m.logits.map { .object(TensorObject($0)) } ?? .nil }),
        ])
    }

    static func sameSize(_ a: MaskObject, _ b: MaskObject, _ error: @autoclosure () -> Error) throws {
        guard a.mask.width == b.mask.width, a.mask.height == b.mask.height else { throw error() }
    }

    /// sam2.image(path)
    static func image(_ call: LuaCall) throws -> [LuaValue] {
        [.object(ImageObject(try ImageIO.readRGB(try call.string(1))))]
    }

    /// sam2.mask(path [, id]): non-zero pixels of a PNG, or the pixels whose palette index is `id`.
    static func mask(_ call: LuaCall) throws -> [LuaValue] {
        let path = try call.string(1)
        let id: Int? = call.count >= 2 ? try call.int(2) : nil
        let index = try ImageIO.readIndexMask(path)
        let bits: BinaryMask
        if let id { bits = BinaryMask(index, id: id) }
        else { bits = try BinaryMask(width: index.width, height: index.height, bits: index.indices.map { $0 != 0 }) }
        return [.object(MaskObject(bits))]
    }
}
