import ArgumentParser
import Foundation
import SAM2

/// An input-mask problem of `workbench vos`; names the video and file, as the official script's RuntimeErrors do.
struct VosInputError: Error, CustomStringConvertible {
    var video: String
    var message: String
    var description: String { "video \(video): \(message)" }
}

/// `workbench vos`: semi-supervised VOS inference over a dataset folder, as the official tools/vos_inference.py.
struct VosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vos",
        abstract: "Semi-supervised VOS inference on a DAVIS / SA-V style folder (the official tools/vos_inference.py).",
        discussion: """
        Layout: --base-video-dir/<video>/<frame>.jpg (or .png); input masks --input-mask-dir/<video>/<frame>.png (DAVIS: \
        palette PNG, index = object id) or with --per-obj-png-file --input-mask-dir/<video>/<object>/<frame>.png \
        (SA-V: one folder per object id, non-zero = object). Outputs go to --output-mask-dir/<video>/ in the same \
        layout (per-object folders named %03d, PNGs of 0/1), with the input masks' palette (else DAVIS's), for \
        every propagated frame, written as frames are tracked.

        Default: the masks of the first frame (with --use-all-masks every frame that has a mask file) are added \
        per object to one predictor and propagated forwards from the first of them; an object id that appears \
        only on a later input frame is an error. Masks of different objects do not overlap (non_overlap_masks) \
        unless --per-obj-png-file.

        --track-object-appearing-later (LVOS, YouTube-VOS): every object gets its own predictor, prompted with \
        its first non-empty mask (every non-empty mask with --use-all-masks) and propagated forwards from its \
        first one, as the official vos_separate_inference_per_object. The predictors advance frame by frame in \
        step, so each frame is merged (objects not started yet have logits −1024; non-overlap unless \
        --per-obj-png-file) and written at once; every frame of the video is written.

        Without --apply-postprocessing the model is the official evaluation setting (apply_postprocessing=False): \
        no hole filling and prompted-frame masks not binarised for the memory encoder. (The decoder's \
        dynamic-multimask fallback, also part of that switch, never applies to mask prompts.)
        """
    )

    @OptionGroup(title: "Model")
    var model: ModelOptions

    @OptionGroup(title: "Memory")
    var tracker: TrackerOptions

    @Option(name: .customLong("base-video-dir"), help: "Folder of videos, each a folder of JPEG frames.")
    var baseVideoDir: String

    @Option(name: .customLong("input-mask-dir"), help: "Folder of input masks, one folder per video.")
    var inputMaskDir: String

    @Option(name: .customLong("output-mask-dir"), help: "Folder for the predicted masks (created if missing).")
    var outputMaskDir: String

    @Option(name: .customLong("video-list"), help: "Text file with one video name per line (default: every folder of --base-video-dir).")
    var videoList: String?

    @Option(name: .customLong("score-thresh"), help: "Logit threshold of the output masks.")
    var scoreThresh: Double = 0

    @Flag(name: .customLong("use-all-masks"), help: "Use every input mask file, not only the first frame's.")
    var useAllMasks = false

    @Flag(name: .customLong("per-obj-png-file"), help: "Per-object PNG folders for inputs and outputs (SA-V layout).")
    var perObjPngFile = false

    @Flag(name: .customLong("apply-postprocessing"), help: "Fill small holes and binarise clicked masks for memory (the official switch).")
    var applyPostprocessing = false

    @Flag(name: .customLong("track-object-appearing-later"), help: "Objects may first appear after frame 0: one inference per object, merged.")
    var trackObjectAppearingLater = false

    func validate() throws {
        if !scoreThresh.isFinite { throw ValidationError("--score-thresh must be a finite number, got \(scoreThresh)") }
    }

    func run() throws {
        let videos = videoNames()
        guard !videos.isEmpty else { CLI.fail("--base-video-dir \(baseVideoDir): no video folders\(videoList.map { " (--video-list \($0) is empty)" } ?? "")") }
        CLI.makeDirectory(outputMaskDir, argument: "--output-mask-dir")
        let videoModel = TrackerOptions.videoModel(model, postprocessing: applyPostprocessing)
        print(useAllMasks ? "using all available masks in --input-mask-dir as input"
                          : "using only the first frame's mask in --input-mask-dir as input")
        print("running VOS prediction on \(videos.count) video\(videos.count == 1 ? "" : "s")")
        let start = CLI.now()
        var frames = 0
        for (n, name) in videos.enumerated() {
            print("\(n + 1)/\(videos.count) - running on \(name)")
            let label = "\(n + 1)/\(videos.count) \(name)"
            frames += CLI.orFail {
                trackObjectAppearingLater ? try separateInferencePerObject(name, model: videoModel, label: label)
                                          : try inference(name, model: videoModel, label: label)
            }
        }
        let seconds = CLI.now() - start
        print(String(format: "completed VOS prediction on %d video%@ (%d frames, %.2f s, %.3f s/frame) -- output masks in %@",
                     videos.count, videos.count == 1 ? "" : "s", frames, seconds, frames > 0 ? seconds / Double(frames) : 0, outputMaskDir))
    }

    /// The --video-list names (blank lines skipped), else the sub-folders of --base-video-dir, sorted.
    private func videoNames() -> [String] {
        if let videoList {
            guard let text = try? String(contentsOfFile: videoList, encoding: .utf8) else { CLI.fail("--video-list \(videoList): cannot read the file") }
            return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: baseVideoDir) else {
            CLI.fail("--base-video-dir \(baseVideoDir): cannot list the folder")
        }
        return names.filter { isDirectory(CLI.join(baseVideoDir, $0)) }.sorted()
    }

    private func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    private func predictor(_ model: SAM2VideoModel, _ video: FrameFolder) -> SAM2VideoPredictor {
        SAM2VideoPredictor(model: model, frames: video, policy: tracker.makePolicy(),
                           fillHoleArea: applyPostprocessing ? 8 : 0, nonOverlapMasks: !perObjPngFile)
    }

    private func writer(_ name: String, palette: [UInt8]) -> VideoMaskWriter {
        var w = VideoMaskWriter(directory: CLI.join(outputMaskDir, name), perObject: perObjPngFile,
                                folderName: { String(format: "%03d", $0) })
        w.palette = palette.isEmpty ? DavisPalette.rgb : palette
        w.threshold = Float(scoreThresh)
        return w
    }

    // MARK: - Input masks

    /// The object folders of a per-object input video (names must be integers, as `int(object_name)`).
    private func objectFolders(_ name: String) throws -> [(id: Int, folder: String)] {
        let dir = CLI.join(inputMaskDir, name)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw VosInputError(video: name, message: "cannot list the input mask folder \(dir)")
        }
        return try entries.filter { isDirectory(CLI.join(dir, $0)) }.sorted().map { entry in
            guard let id = Int(entry) else { throw VosInputError(video: name, message: "\(CLI.join(dir, entry)): object folders must be named by object id (e.g. 001)") }
            return (id, CLI.join(dir, entry))
        }
    }

    /// `load_masks_from_dir`: per-object masks [H, W] (0/1) of one frame and the palette they came with.
    /// Missing files are skipped with `allowMissing`, else an error naming the file.
    private func loadMasks(_ name: String, frameName: String, allowMissing: Bool) throws -> (masks: [(id: Int, mask: Tensor)], palette: [UInt8]?) {
        if !perObjPngFile {
            let path = CLI.join(CLI.join(inputMaskDir, name), "\(frameName).png")
            if allowMissing && !FileManager.default.fileExists(atPath: path) { return ([], nil) }
            let mask = try readMask(path, video: name)
            return (mask.objectIDs.map { ($0, mask.binaryMask(id: $0)) }, mask.palette)
        }
        var masks: [(id: Int, mask: Tensor)] = [], palette: [UInt8]? = nil
        for (id, folder) in try objectFolders(name) {
            let path = CLI.join(folder, "\(frameName).png")
            if allowMissing && !FileManager.default.fileExists(atPath: path) { continue }
            let mask = try readMask(path, video: name)
            masks.append((id, Tensor(shape: [mask.height, mask.width], data: mask.indices.map { $0 > 0 ? 1 : 0 })))
            palette = mask.palette
        }
        return (masks, palette)
    }

    private func readMask(_ path: String, video: String) throws -> IndexMask {
        guard FileManager.default.fileExists(atPath: path) else {
            throw VosInputError(video: video, message: "no input mask \(path)" + (trackObjectAppearingLater ? "" :
                " (for datasets whose objects do not all appear on the first frame, such as LVOS or YouTube-VOS, add --track-object-appearing-later)"))
        }
        return try ImageIO.readIndexMask(path)
    }

    private func hasMask(_ name: String, frameName: String) throws -> Bool {
        if !perObjPngFile { return FileManager.default.fileExists(atPath: CLI.join(CLI.join(inputMaskDir, name), "\(frameName).png")) }
        return try objectFolders(name).contains { FileManager.default.fileExists(atPath: CLI.join($0.folder, "\(frameName).png")) }
    }

    // MARK: - Inference

    /// `vos_inference`: all objects in one predictor, prompted on the first (or every annotated) frame.
    /// Returns the number of frames written.
    private func inference(_ name: String, model: SAM2VideoModel, label: String) throws -> Int {
        let video = try FrameFolder(path: CLI.join(baseVideoDir, name))
        let predictor = predictor(model, video)
        let inputFrames = useAllMasks ? try (0..<video.frameCount).filter { try hasMask(name, frameName: video.frameName($0)) } : [0]
        guard !inputFrames.isEmpty else {
            throw VosInputError(video: name, message: "no input masks in \(CLI.join(inputMaskDir, name)) for any frame")
        }
        var objectIds: Set<Int>? = nil
        var palette: [UInt8] = []
        for f in inputFrames {
            let (masks, pal) = try loadMasks(name, frameName: video.frameName(f), allowMissing: false)
            if let pal { palette = pal }
            if objectIds == nil { objectIds = Set(masks.map(\.id)) }
            for (id, mask) in masks {
                guard objectIds!.contains(id) else {
                    throw VosInputError(video: name, message: "object \(id) appears only on a later input frame (\(video.frameName(f))), not on the first; add --track-object-appearing-later for datasets such as LVOS or YouTube-VOS")
                }
                try predictor.addMask(frame: f, objectId: id, mask: mask)
            }
        }
        guard let ids = objectIds, !ids.isEmpty else {
            throw VosInputError(video: name, message: "no object ids on input frame\(inputFrames.count == 1 ? "" : "s") \(inputFrames.map { video.frameName($0) }.joined(separator: ", ")); add --track-object-appearing-later for datasets whose objects appear later")
        }
        try checkPaletteIds(ids, video: name)
        var out = writer(name, palette: palette)
        let propagation = try predictor.propagation()
        let bar = ProgressBar(total: propagation.frameOrder.count, label: label, unit: "frames")
        defer { bar.finish() }
        while let r = try propagation.next() {
            try out.writeMasks(frameName: video.frameName(r.frameIndex), ids: r.objectIds, logits: r.videoResMasks)
            bar.advance()
        }
        return propagation.frameOrder.count
    }

    /// `vos_separate_inference_per_object`: one predictor per object, started on its first input mask; the
    /// predictors advance in step so each frame is merged and written as soon as every object has it.
    private func separateInferencePerObject(_ name: String, model: SAM2VideoModel, label: String) throws -> Int {
        let video = try FrameFolder(path: CLI.join(baseVideoDir, name))
        var inputs: [Int: [(frame: Int, mask: Tensor)]] = [:]
        var palette: [UInt8] = []
        for f in 0..<video.frameCount {
            let (masks, pal) = try loadMasks(name, frameName: video.frameName(f), allowMissing: true)
            if let pal { palette = pal }
            for (id, mask) in masks where mask.data.contains(where: { $0 != 0 }) {
                if !useAllMasks && inputs[id] != nil { continue }
                inputs[id, default: []].append((f, mask))
            }
        }
        let ids = inputs.keys.sorted()
        if ids.isEmpty { CLI.warn("video \(name): no non-empty input mask on any frame; writing empty masks") }
        try checkPaletteIds(ids, video: name)
        var tracks: [(start: Int, propagation: SAM2VideoPredictor.Propagation)] = []
        for id in ids {
            let p = predictor(model, video)
            for (f, mask) in inputs[id]! { try p.addMask(frame: f, objectId: id, mask: mask) }
            let first = inputs[id]!.map(\.frame).min()!
            tracks.append((first, try p.propagation(start: first, reverse: false)))
        }
        var out = writer(name, palette: palette)
        let (h, w) = (video.height, video.width)
        let bar = ProgressBar(total: video.frameCount, label: label, unit: "frames")
        defer { bar.finish() }
        for f in 0..<video.frameCount {
            var planes: [Tensor] = []
            for (start, propagation) in tracks {
                if f >= start, let r = try propagation.next() {
                    precondition(r.frameIndex == f, "vos: per-object propagation out of step (\(r.frameIndex) ≠ \(f))")
                    planes.append(r.videoResMasks)
                } else {
                    planes.append(Tensor(shape: [1, 1, h, w], repeating: -1024))
                }
            }
            var scores = planes.isEmpty ? Tensor.zeros([0, 1, h, w]) : Tensor.concat(planes, axis: 0)
            if !perObjPngFile && !planes.isEmpty { scores = SAM2VideoModel.applyNonOverlappingConstraints(scores) }
            try out.writeMasks(frameName: video.frameName(f), ids: ids, logits: scores)
            bar.advance()
        }
        return video.frameCount
    }

    /// DAVIS-layout outputs store ids as palette indices.
    private func checkPaletteIds(_ ids: some Collection<Int>, video: String) throws {
        if !perObjPngFile, let bad = ids.first(where: { !(1...255).contains($0) }) {
            throw VosInputError(video: video, message: "object id \(bad) cannot be a palette index (1…255)")
        }
    }
}
