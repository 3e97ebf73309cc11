import ArgumentParser
import Foundation
import SAM2

/// `workbench track --checkpoint CKPT --frames DIR --prompts PROMPTS.json --out DIR`: prompts from a JSON file,
/// then SAM2VideoPredictor's propagation, each frame's masks written as soon as it is tracked.
struct TrackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track",
        abstract: "Track objects through a folder of frames from prompts in a JSON file (SAM2VideoPredictor).",
        discussion: """
        --frames is a folder of JPEG or PNG frames named by frame number (00000.jpg, …), all of one size; frame \
        indices in the prompts count the frames in that order from 0.

        PROMPTS.json is a list applied in order before propagation (coordinates in video pixels):
          clicks (label 1 positive, 0 negative):
            {"frame": F, "object": ID, "points": [[x, y], …], "labels": [1, …]}
          a box (may come with points):
            {"frame": F, "object": ID, "box": [x0, y0, x1, y1]}
          a mask (non-zero pixels = object):
            {"frame": F, "object": ID, "mask": "file.png"}
          forget the object's prompts on a frame / drop the object:
            {"frame": F, "object": ID, "clear": true}    {"object": ID, "remove": true}
        Clicks replace the object's earlier clicks on that frame unless "clear_old_points": false. A mask path is \
        relative to the PROMPTS.json folder; the PNG (palette, gray) must have the video's size; a palette PNG with \
        several ids (a DAVIS annotation) gives the pixels equal to the object id.

        Writes into --out, per tracked frame, a DAVIS palette PNG named as the input frame (index = object id; \
        where masks overlap the smallest id wins), or with --per-object OUT/<id>/<frame>.png (palette PNG of 0/1). \
        --logits adds OUT/<id>/<frame>.npy: float32 [H, W] logits at the video's resolution (> 0: object). Files are \
        written as frames are tracked, so a failure later (an unreadable frame) keeps what was written.

        Propagation as the official propagate_in_video: from --start (default: the first prompted frame), forwards \
        or with --reverse backwards, over at most --max-frames frames after the start.
        """
    )

    @OptionGroup(title: "Model")
    var model: ModelOptions

    @OptionGroup(title: "Memory")
    var tracker: TrackerOptions

    @Option(help: "Folder of JPEG / PNG frames named by frame number.")
    var frames: String

    @Option(help: "JSON list of prompts (see below).")
    var prompts: String

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Flag(help: "Propagate backwards (towards frame 0).")
    var reverse = false

    @Option(help: "First frame of the propagation (default: the first prompted frame).")
    var start: Int?

    @Option(name: .customLong("max-frames"), help: "Track at most this many frames after the start frame.")
    var maxFrames: Int?

    @Flag(name: .customLong("per-object"), help: "One folder of 0/1 PNGs per object instead of one palette PNG per frame.")
    var perObject = false

    @Flag(help: "Also write OUT/<id>/<frame>.npy: float32 logits at the video's resolution.")
    var logits = false

    @Flag(name: .customLong("non-overlap"), help: "Keep only the highest-scoring object at each pixel (non_overlap_masks).")
    var nonOverlap = false

    func validate() throws {
        if let start, start < 0 { throw ValidationError("--start must be ≥ 0, got \(start)") }
        if let maxFrames, maxFrames < 0 { throw ValidationError("--max-frames must be ≥ 0, got \(maxFrames)") }
    }

    func run() throws {
        let t0 = CLI.now()
        let promptList = CLI.orFail { try TrackPrompt.load(prompts) }
        if !perObject, let bad = promptList.enumerated().first(where: { !(1...255).contains($0.element.object) }) {
            CLI.fail("\(prompts): prompt \(bad.offset) key \"object\": \(bad.element.object) cannot be a palette index (1…255); use --per-object for other ids")
        }
        let video = CLI.orFail { try FrameFolder(path: frames) }
        CLI.makeDirectory(out, argument: "--out")
        let videoModel = TrackerOptions.videoModel(model)
        let predictor = SAM2VideoPredictor(model: videoModel, frames: video, policy: tracker.makePolicy(),
                                           nonOverlapMasks: nonOverlap)
        let tModel = CLI.now()

        for (i, p) in promptList.enumerated() {
            CLI.orFail {
                do { try apply(p, to: predictor, video: video) }
                catch let e as TrackPromptError { throw e }
                catch { throw TrackPromptError(file: prompts, index: i, key: nil, message: "\(error)") }
            }
        }
        let tPrompts = CLI.now()

        let propagation = CLI.orFail {
            do { return try predictor.propagation(start: start, maxFrames: maxFrames, reverse: reverse) }
            catch VideoPredictorError.frameOutOfRange(let frame, let count) {
                throw ValidationError("--start \(frame): the video has frames 0..<\(count)")
            }
        }
        var writer = VideoMaskWriter(directory: out, perObject: perObject, folderName: { String($0) })
        let bar = ProgressBar(total: propagation.frameOrder.count, label: "track", unit: "frames")
        var written = 0
        while let result = CLI.orFail({ try propagation.next() }) {
            let name = video.frameName(result.frameIndex)
            CLI.orFail {
                try writer.writeMasks(frameName: name, ids: result.objectIds, logits: result.videoResMasks)
                if logits { try writer.writeLogits(frameName: name, ids: result.objectIds, logits: result.videoResMasks) }
            }
            written += 1
            bar.advance()
        }
        bar.finish()
        let end = CLI.now()
        let tracked = end - tPrompts
        print(String(format: "tracked %d frame%@ × %d object%@ into %@ in %.2f s (%.3f s/frame); model %.2f s, prompts %.2f s, %d frames encoded",
                     written, written == 1 ? "" : "s", predictor.objectIds.count, predictor.objectIds.count == 1 ? "" : "s", out,
                     tracked, written > 0 ? tracked / Double(written) : 0, tModel - t0, tPrompts - tModel, predictor.framesEncoded))
    }

    /// One prompt on the predictor; errors name the prompt's position in the file.
    private func apply(_ p: TrackPrompt, to predictor: SAM2VideoPredictor, video: FrameFolder) throws {
        switch p.action {
        case let .points(points, labels, box, clearOldPoints):
            try predictor.addPoints(frame: p.frame!, objectId: p.object, points: points, labels: labels, box: box,
                                    clearOldPoints: clearOldPoints)
        case let .mask(path):
            try predictor.addMask(frame: p.frame!, objectId: p.object,
                                  mask: try Self.maskPrompt(path, object: p.object, width: video.width, height: video.height))
        case .clear:
            try predictor.clearPrompts(frame: p.frame!, objectId: p.object)
        case .remove:
            try predictor.removeObject(p.object)
        }
    }

    /// A mask prompt [H, W] of 0/1 from a palette or gray PNG of the video's size.
    static func maskPrompt(_ path: String, object: Int, width: Int, height: Int) throws -> Tensor {
        let mask = try ImageIO.readIndexMask(path)
        guard mask.width == width, mask.height == height else {
            throw ImageIOError.invalidArgument("\(path): mask is \(mask.width)×\(mask.height), the video is \(width)×\(height)")
        }
        let ids = mask.objectIDs
        // A DAVIS annotation holds several objects: the prompt takes the one it names.
        if ids.count > 1 && !mask.palette.isEmpty {
            guard ids.contains(object) else {
                throw ImageIOError.invalidArgument("\(path): the palette mask holds ids \(ids.map(String.init).joined(separator: ", ")), not object \(object)")
            }
            return mask.binaryMask(id: object)
        }
        return Tensor(shape: [height, width], data: mask.indices.map { $0 != 0 ? 1 : 0 })
    }
}
