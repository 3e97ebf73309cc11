import Foundation

/// Errors of the training data and loop (bad specs, unusable videos, bad options).
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case badDataSpec(spec: String, expected: String)
    case noUsableVideo(source: String, reason: String)
    case badOption(name: String, expected: String)

    public var description: String {
        switch self {
        case let .badDataSpec(spec, expected): return "--data '\(spec)': expected \(expected)"
        case let .noUsableVideo(source, reason): return "\(source): \(reason)"
        case let .badOption(name, expected): return "\(name): expected \(expected)"
        }
    }
}

/// Where training videos come from: `synthetic:COUNT[:SEED]` (the synthetic engine with occlusions, exits and
/// distractors, rendered on demand at the model's input size), or a folder in the DAVIS, YouTube-VOS or SA-V layout
/// (`davis:PATH`, `ytvos:PATH[:SPLIT]`, `sav:PATH`; a bare PATH is read as DAVIS 2017 train).
public enum TrainingDataSpec: Equatable, Sendable {
    case synthetic(count: Int, seed: UInt64)
    case davis(root: String, split: String)
    case youtubeVOS(root: String, split: String)
    case sav(root: String)

    /// Parses a `--data` value.
    public static func parse(_ text: String) throws -> TrainingDataSpec {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let expected = "synthetic:COUNT[:SEED], davis:ROOT[:SPLIT], ytvos:ROOT[:SPLIT], sav:ROOT or a DAVIS root folder"
        switch parts[0] {
        case "synthetic":
            guard parts.count >= 2, parts.count <= 3, let n = Int(parts[1]), n >= 1 else { throw TrainingError.badDataSpec(spec: text, expected: expected) }
            let seed = parts.count == 3 ? UInt64(parts[2]) : 0
            guard let seed else { throw TrainingError.badDataSpec(spec: text, expected: "an unsigned integer SEED") }
            return .synthetic(count: n, seed: seed)
        case "davis" where parts.count >= 2: return .davis(root: parts[1], split: parts.count > 2 ? parts[2] : "train")
        case "ytvos" where parts.count >= 2: return .youtubeVOS(root: parts[1], split: parts.count > 2 ? parts[2] : "train")
        case "sav" where parts.count == 2: return .sav(root: parts[1])
        default:
            guard !text.isEmpty, FileManager.default.fileExists(atPath: text) else { throw TrainingError.badDataSpec(spec: text, expected: expected) }
            return .davis(root: text, split: "train")
        }
    }

    /// The synthetic video distribution used for training and validation at input size `size`: 3 annotated
    /// objects, occlusions by objects and bars, exits and re-entries every ~20 frames (no look-alike distractors).
    public static func syntheticConfig(seed: UInt64, size: Int, frames: Int) -> SyntheticVideoConfig {
        var c = SyntheticVideoConfig()
        c.width = size; c.height = size; c.frames = frames; c.objects = 3
        c.objectSize = 0.09...0.18
        c.speed = Double(size) / 160
        c.occlusion = .both; c.disappear = true; c.distractors = 0
        c.eventPeriod = 20; c.hiddenFrames = 5
        c.backgroundPan = 0.5
        c.seed = seed
        return c
    }

    /// The videos of this spec (frames and masks are read or rendered on demand).
    public func videos(imageSize: Int, syntheticFrames: Int = 48) throws -> [GroundTruthVideo] {
        switch self {
        case let .synthetic(count, seed):
            return try (0..<count).map { i in
                let config = Self.syntheticConfig(seed: SyntheticDataset.videoSeed(base: seed, index: i), size: imageSize, frames: syntheticFrames)
                return try GroundTruthVideo(synthetic: SyntheticVideoGenerator(config: config), name: SyntheticDataset.sequenceName(i))
            }
        case let .davis(root, split):
            return try DAVISDataset(root: root, split: split).sequences().map { try GroundTruthVideo(sequence: $0) }
        case let .youtubeVOS(root, split):
            return try YouTubeVOSDataset(root: root, split: split).sequences().map { try GroundTruthVideo(sequence: $0) }
        case let .sav(root):
            return try SAVDataset(root: root).sequences().map { try GroundTruthVideo(sequence: $0) }
        }
    }
}

/// One training sample: `frames.count` frames of one video at the model's input size with the ground-truth masks of
/// up to `maxObjects` objects (the official `max_num_objects`), all visible on the clip's first frame.
public struct TrainingClip {
    /// Normalised frames, [T, 3, S, S].
    public var frames: Tensor
    /// Ground truth per frame: [N, S, S] of 0/1 for the N objects.
    public var masks: [Tensor]
    /// Object ids and the video / frame indices the clip came from (for logs).
    public var objectIDs: [Int]
    public var video: String
    public var frameIndices: [Int]

    /// A clip from its parts (frames [T, 3, S, S] normalised, one [N, S, S] mask tensor per frame).
    public init(frames: Tensor, masks: [Tensor], objectIDs: [Int], video: String, frameIndices: [Int]) {
        self.frames = frames; self.masks = masks; self.objectIDs = objectIDs; self.video = video; self.frameIndices = frameIndices
    }

    /// Number of frames.
    public var length: Int { masks.count }
    /// Number of objects.
    public var objects: Int { objectIDs.count }
}

/// Draws clips from a set of videos: a random video, start and frame stride (1…`maxStride`, so 8 frames can span
/// an occlusion or an exit), and up to `maxObjects` objects present on the first frame.
public struct TrainingClipSampler {
    public var videos: [GroundTruthVideo]
    public var imageSize: Int
    public var length = 8
    public var maxStride = 3
    public var maxObjects = 3

    public init(videos: [GroundTruthVideo], imageSize: Int) throws {
        guard !videos.isEmpty else { throw TrainingError.noUsableVideo(source: "training data", reason: "no videos") }
        self.videos = videos; self.imageSize = imageSize
    }

    /// A clip, or nil when the drawn video has no object on the drawn start frame (the caller draws again) or, with
    /// `requireReappearance`, when none of its objects leaves the view and comes back within the clip.
    public func sample(_ rng: inout SplitMix64, requireReappearance: Bool = false) throws -> TrainingClip? {
        let video = videos[rng.int(0...(videos.count - 1))]
        let n = video.frames.frameCount
        let step = min(rng.int(1...maxStride), max(1, (n - 1) / max(1, length - 1)))
        let span = (length - 1) * step
        guard n > span else { return nil }
        let start = rng.int(0...(n - 1 - span))
        let indices = (0..<length).map { start + $0 * step }
        guard let first = try video.groundTruth(indices[0]) else { return nil }
        var ids = first.filter { !$0.value.isEmpty }.map(\.key).sorted()
        guard !ids.isEmpty else { return nil }
        // Ground truth read once per frame (a synthetic video renders a frame to answer).
        var truth = [first]
        for i in indices.dropFirst() { truth.append(try video.groundTruth(i) ?? [:]) }
        for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, rng.int(0...i)) }   // Fisher–Yates
        if requireReappearance {
            let back = ids.filter { id in Self.reappears(truth.map { !($0[id]?.isEmpty ?? true) }) }
            guard let kept = back.first else { return nil }
            // The returning object is among the kept ones.
            if !ids.prefix(maxObjects).contains(kept) { ids[maxObjects - 1] = kept }
        }
        ids = Array(ids.prefix(maxObjects)).sorted()
        var frames: [Tensor] = [], masks: [Tensor] = []
        for (i, gt) in zip(indices, truth) {
            frames.append(VideoFramePreprocessing.tensor(try video.frames.frame(i), imageSize: imageSize))
            masks.append(Tensor.concat(ids.map { id in
                Self.resized(gt[id], size: imageSize).reshaped([1, imageSize, imageSize])
            }, axis: 0))
        }
        return TrainingClip(frames: Tensor.concat(frames, axis: 0), masks: masks, objectIDs: ids, video: video.name, frameIndices: indices)
    }

    /// Whether a visibility sequence shows the object, then not for at least two frames in a row, then again (an
    /// exit or a long occlusion and a return; a one-frame gap is a flicker that local tracking bridges).
    public static func reappears(_ visible: [Bool]) -> Bool {
        var seen = false, gap = 0, longGap = false
        for v in visible {
            if v {
                if longGap { return true }
                seen = true; gap = 0
            } else if seen {
                gap += 1
                if gap >= 2 { longGap = true }
            }
        }
        return false
    }

    /// A mask as 0/1 at S×S (nearest neighbour when the video is not S×S; empty when the object is absent).
    static func resized(_ mask: BitMask?, size s: Int) -> Tensor {
        guard let mask else { return Tensor.zeros([s, s]) }
        var out = [Float](repeating: 0, count: s * s)
        for y in 0..<s {
            let sy = min(mask.height - 1, y * mask.height / s)
            for x in 0..<s where mask[sy, min(mask.width - 1, x * mask.width / s)] { out[y * s + x] = 1 }
        }
        return Tensor(shape: [s, s], data: out)
    }
}
