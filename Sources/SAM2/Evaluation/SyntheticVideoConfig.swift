import Foundation

/// What occludes the annotated objects during scheduled occlusion events.
public enum SyntheticOcclusion: String, Codable, Sendable, CaseIterable {
    /// No scheduled occlusions (objects may still overlap by chance).
    case none
    /// Annotated objects pass fully behind a large front-most annotated object.
    case objects
    /// Annotated objects pass fully behind a full-height foreground bar that is not an object (index 0).
    case bar
    /// Both kinds, alternating.
    case both
}

/// Procedural texture families for objects and background.
public enum SyntheticTexture: String, Codable, Sendable, CaseIterable {
    /// One solid colour (object pixels equal it exactly in the raw frame).
    case flat
    /// Smooth value noise around a base colour.
    case noise
    /// Stripes of two colours.
    case stripes
    /// Checkerboard of two colours.
    case checker
    /// A random one of the above per object (background: noise).
    case mixed
}

/// Shape families of synthetic objects (all drawn in object-local coordinates, then scaled, rotated, moved).
public enum SyntheticShapeKind: String, Codable, Sendable, CaseIterable {
    /// Ellipse with a random aspect ratio.
    case ellipse
    /// Star-shaped random polygon with 5…9 vertices.
    case polygon
    /// Five-to-seven-pointed star.
    case star
    /// Smooth blob (radius modulated by low-order harmonics).
    case blob
    /// Annulus: the hole shows whatever is behind and is not part of the mask.
    case ring
}

/// Every knob of the synthetic video engine; the same config and seed always give the same video.
public struct SyntheticVideoConfig: Codable, Sendable, Equatable {
    /// Frame width in pixels.
    public var width = 854
    /// Frame height in pixels.
    public var height = 480
    /// Number of frames.
    public var frames = 100
    /// Annotated objects (ids 1…objects, at most 255 − 1).
    public var objects = 3
    /// Object radius as a fraction of min(width, height), drawn uniformly from this range.
    public var objectSize: ClosedRange<Double> = 0.07...0.14
    /// Allowed shapes; each object draws one uniformly.
    public var shapes: [SyntheticShapeKind] = SyntheticShapeKind.allCases
    /// Object speed in pixels per frame (each object draws 0.6…1.4× this).
    public var speed = 3.0
    /// Relative amplitude of the sinusoidal scale change (0.3 → scale in 0.7…1.3).
    public var scaleChange = 0.2
    /// Frames per scale oscillation.
    public var scalePeriod = 90.0
    /// Rotation speed in degrees per frame (each object draws ±0.5…1× this).
    public var rotation = 1.0
    /// Scheduled occlusions.
    public var occlusion = SyntheticOcclusion.none
    /// Unannotated look-alikes: each copies the shape, colour and texture of an annotated object.
    public var distractors = 0
    /// Objects periodically leave the frame and come back.
    public var disappear = false
    /// Frames between the starts of two events (exit / occlusion) of one object; nil: max(event length + 10,
    /// min(frames / 2, 150)). Never shorter than one event.
    public var eventPeriod: Int? = nil
    /// Frames an object stays fully hidden per event.
    public var hiddenFrames = 8
    /// Texture of the objects.
    public var texture = SyntheticTexture.mixed
    /// Texture of the background.
    public var background = SyntheticTexture.noise
    /// Background panning speed in pixels per frame (direction drawn from the seed).
    public var backgroundPan = 1.0
    /// JPEG quality of the written frames (1…100).
    public var jpegQuality = 90
    /// Seed of everything random in the video.
    public var seed: UInt64 = 0

    /// Default config (854×480, 100 frames, 3 objects).
    public init() {}

    /// Throws `SyntheticVideoError.invalidConfig` naming the first bad knob.
    public func validate() throws {
        func bad(_ s: String) -> SyntheticVideoError { .invalidConfig(s) }
        guard width >= 16, height >= 16, width <= 16384, height <= 16384 else { throw bad("size must be 16…16384 per side, got \(width)×\(height)") }
        guard frames >= 1 else { throw bad("frames must be ≥ 1, got \(frames)") }
        guard (1...254).contains(objects) else { throw bad("objects must be 1…254, got \(objects)") }
        guard objectSize.lowerBound > 0, objectSize.upperBound <= 0.45 else {
            throw bad("objectSize must lie in (0, 0.45] of min(width, height), got \(objectSize)")
        }
        guard !shapes.isEmpty else { throw bad("shapes must not be empty") }
        guard speed.isFinite, speed >= 0 else { throw bad("speed must be ≥ 0 px/frame, got \(speed)") }
        guard scaleChange.isFinite, (0..<0.9).contains(scaleChange) else { throw bad("scaleChange must be in 0…0.9, got \(scaleChange)") }
        guard scalePeriod.isFinite, scalePeriod > 0 else { throw bad("scalePeriod must be > 0 frames, got \(scalePeriod)") }
        guard rotation.isFinite else { throw bad("rotation must be finite, got \(rotation)") }
        guard occlusion != .objects && occlusion != .both || objects >= 2 else {
            throw bad("occlusion '\(occlusion.rawValue)' needs ≥ 2 objects (one is the occluder), got \(objects)")
        }
        guard distractors >= 0, distractors <= 1000 else { throw bad("distractors must be 0…1000, got \(distractors)") }
        if let p = eventPeriod { guard p >= 1 else { throw bad("eventPeriod must be ≥ 1 frame, got \(p)") } }
        guard hiddenFrames >= 1 else { throw bad("hiddenFrames must be ≥ 1, got \(hiddenFrames)") }
        guard backgroundPan.isFinite, backgroundPan >= 0 else { throw bad("backgroundPan must be ≥ 0 px/frame, got \(backgroundPan)") }
        guard (1...100).contains(jpegQuality) else { throw bad("jpegQuality must be 1…100, got \(jpegQuality)") }
    }
}

/// Errors of the synthetic video engine.
public enum SyntheticVideoError: Error, CustomStringConvertible, Equatable {
    /// A config knob is out of range (the message names it).
    case invalidConfig(String)
    /// A frame index outside 0..<frames.
    case frameOutOfRange(index: Int, frames: Int)
    /// Writing the dataset failed at `path`.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfig(s): return "invalid synthetic video config: \(s)"
        case let .frameOutOfRange(i, n): return "synthetic frame \(i) is outside 0..<\(n)"
        case let .unwritable(path, reason): return "\(path): cannot write synthetic dataset: \(reason)"
        }
    }
}
