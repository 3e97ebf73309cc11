import Foundation

/// A video with per-frame object ground truth, as the interactive protocols consume it: frames for the
/// tracker and, per frame, each annotated object's mask (read on demand, so long videos stay cheap).
public struct GroundTruthVideo: Sendable {
    /// Sequence name (reported in results).
    public var name: String
    /// The frames the tracker sees.
    public var frames: any VideoFrameSource
    /// Annotated objects: id and the first frame whose ground truth is non-empty, by id.
    public var objects: [(id: Int, firstFrame: Int)]
    /// Object id → mask on frame `index`; nil when the frame is not annotated (objects absent from an
    /// annotated frame are empty there).
    public var groundTruth: @Sendable (Int) throws -> [Int: BitMask]?

    /// A video from its parts.
    public init(name: String, frames: any VideoFrameSource, objects: [(id: Int, firstFrame: Int)],
                groundTruth: @escaping @Sendable (Int) throws -> [Int: BitMask]?) {
        self.name = name; self.frames = frames
        self.objects = objects.sorted { $0.id < $1.id }
        self.groundTruth = groundTruth
    }

    /// A sequence of a VOS data set (DAVIS, YouTube-VOS, SA-V layouts; also synthetic sets written in DAVIS
    /// layout). Objects start on the first annotated frame where they are non-empty.
    public init(sequence: VOSSequence) throws {
        guard let first = sequence.frames.first else {
            throw EvaluationError.invalidArgument("sequence \(sequence.name) has no frames")
        }
        let probe = try first.loadImage()
        let frameList = sequence.frames
        let frames = GeneratedFrames(frameCount: frameList.count, width: probe.width, height: probe.height) { i in
            try frameList[i].loadImage()
        }
        var byIndex: [Int: VOSAnnotation] = [:]
        for a in sequence.annotations { if let i = a.frameIndex { byIndex[i] = a } }
        let annotations = byIndex
        let ground: @Sendable (Int) throws -> [Int: BitMask]? = { i in try annotations[i]?.loadObjects() }
        var starts: [Int: Int] = [:]
        let wanted = Set(sequence.objects.map(\.id))
        for i in annotations.keys.sorted() where starts.count < wanted.count {
            for (id, m) in try ground(i) ?? [:] where wanted.contains(id) && starts[id] == nil && !m.isEmpty { starts[id] = i }
        }
        self.init(name: sequence.name, frames: frames, objects: starts.map { ($0.key, $0.value) }, groundTruth: ground)
    }

    /// A synthetic video rendered on demand (every frame annotated, exact ground truth).
    public init(synthetic generator: SyntheticVideoGenerator, name: String = "synthetic") throws {
        let (w, h, n) = (generator.config.width, generator.config.height, generator.config.frames)
        let frames = GeneratedFrames(frameCount: n, width: w, height: h) { i in try generator.frame(i).image }
        let ids = generator.objectIDs
        let ground: @Sendable (Int) throws -> [Int: BitMask]? = { i in
            let masks = BitMask.objects(try generator.frame(i).mask, ids: ids)
            return Dictionary(uniqueKeysWithValues: zip(ids, masks))
        }
        var starts: [Int: Int] = [:]
        for i in 0..<n where starts.count < ids.count {
            for (id, m) in try ground(i) ?? [:] where starts[id] == nil && !m.isEmpty { starts[id] = i }
        }
        self.init(name: name, frames: frames, objects: starts.map { ($0.key, $0.value) }, groundTruth: ground)
    }
}
