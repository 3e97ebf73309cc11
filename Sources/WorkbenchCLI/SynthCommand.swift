import ArgumentParser
import Foundation
import SAM2

/// `workbench synth …`: writes procedural videos with exact ground truth in the DAVIS layout.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write synthetic videos with exact masks in the DAVIS 2017 layout (JPEGImages/, Annotations/, ImageSets/).")

    @Option(help: "Output dataset root.") var out: String
    @Option(help: "Number of videos.") var videos: Int = 1
    @Option(help: "Frames per video.") var frames: Int = 100
    @Option(help: "Frame size WxH.") var size: String = "854x480"
    @Option(help: "Annotated objects per video.") var objects: Int = 3
    @Option(help: "Scheduled occlusions: none, objects, bar or both.") var occlusion: String = "none"
    @Option(help: "Unannotated look-alike distractors.") var distractors: Int = 0
    @Flag(help: "Objects periodically leave the frame and come back.") var disappear = false
    @Option(help: "Object speed in px/frame.") var speed: Double = 3
    @Option(help: "Relative scale-change amplitude (0…0.9).") var scaleChange: Double = 0.2
    @Option(help: "Rotation in degrees/frame.") var rotation: Double = 1
    @Option(help: "Object radius range as fraction of min(W,H), e.g. 0.07-0.14.") var objectSize: String = "0.07-0.14"
    @Option(help: "Shapes (comma list of ellipse,polygon,star,blob,ring).") var shapes: String = "ellipse,polygon,star,blob,ring"
    @Option(help: "Object texture: flat, noise, stripes, checker or mixed.") var texture: String = "mixed"
    @Option(help: "Background texture: flat, noise, stripes or checker.") var background: String = "noise"
    @Option(help: "Background panning speed in px/frame.") var pan: Double = 1
    @Option(help: "Frames between events of one object (default: from the video length).") var eventPeriod: Int?
    @Option(help: "Frames an object stays hidden per event.") var hiddenFrames: Int = 8
    @Option(help: "JPEG quality 1…100.") var jpegQuality: Int = 90
    @Option(help: "Base seed; video i uses a seed derived from it.") var seed: UInt64 = 0
    @Option(help: "Also write Synthetic/<seq>_sheet.png: every K-th frame with its masks overlaid (0: off).") var sheetEvery: Int = 0
    @Option(help: "Worker threads (default: all cores).") var threads: Int?

    func config() throws -> SyntheticVideoConfig {
        var c = SyntheticVideoConfig()
        let wh = size.lowercased().split(separator: "x")
        guard wh.count == 2, let w = Int(wh[0]), let h = Int(wh[1]) else {
            throw ValidationError("--size must be WxH (e.g. 854x480), got '\(size)'")
        }
        c.width = w; c.height = h; c.frames = frames; c.objects = objects
        guard let occ = SyntheticOcclusion(rawValue: occlusion) else {
            throw ValidationError("--occlusion must be none, objects, bar or both, got '\(occlusion)'")
        }
        c.occlusion = occ; c.distractors = distractors; c.disappear = disappear
        c.speed = speed; c.scaleChange = scaleChange; c.rotation = rotation
        let sz = objectSize.split(separator: "-").compactMap { Double($0) }
        guard sz.count == 2, sz[0] <= sz[1] else { throw ValidationError("--object-size must be LO-HI (e.g. 0.07-0.14), got '\(objectSize)'") }
        c.objectSize = sz[0]...sz[1]
        var kinds: [SyntheticShapeKind] = []
        for s in shapes.split(separator: ",") {
            guard let k = SyntheticShapeKind(rawValue: String(s)) else { throw ValidationError("--shapes: unknown shape '\(s)'") }
            kinds.append(k)
        }
        c.shapes = kinds
        guard let tex = SyntheticTexture(rawValue: texture) else { throw ValidationError("--texture: unknown texture '\(texture)'") }
        guard let bg = SyntheticTexture(rawValue: background) else { throw ValidationError("--background: unknown texture '\(background)'") }
        c.texture = tex; c.background = bg; c.backgroundPan = pan
        c.eventPeriod = eventPeriod; c.hiddenFrames = hiddenFrames; c.jpegQuality = jpegQuality
        do { try c.validate() } catch { throw ValidationError("\(error)") }
        return c
    }

    func validate() throws {
        if videos < 1 { throw ValidationError("--videos must be ≥ 1, got \(videos)") }
        if sheetEvery < 0 { throw ValidationError("--sheet-every must be ≥ 0, got \(sheetEvery)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
        _ = try config()
    }

    func run() throws {
        if let threads { Parallel.setThreadCount(threads) }
        let base = try config()
        let sequences = (0..<videos).map { i -> SyntheticDataset.Sequence in
            var c = base
            c.seed = SyntheticDataset.videoSeed(base: seed, index: i)
            return SyntheticDataset.Sequence(name: SyntheticDataset.sequenceName(i), config: c)
        }
        let bar = ProgressBar(total: videos * frames, label: "synth", unit: "frames")
        let t0 = Date()
        try SyntheticDataset.write(root: out, sequences: sequences) { done, _ in bar.update(done) }
        bar.finish()
        let s = Date().timeIntervalSince(t0)
        print(String(format: "wrote %d videos × %d frames (%@) to %@ in %.1f s (%.1f frames/s)",
                     videos, frames, size, out, s, Double(videos * frames) / max(s, 1e-9)))
        if sheetEvery > 0 {
            for seq in sequences {
                let g = try SyntheticVideoGenerator(config: seq.config)
                let sheet = try ContactSheet.make(frameCount: frames, every: sheetEvery, columns: 6, thumbnailWidth: 200) { i in
                    let f = try g.frame(i)
                    return Overlay.render(frame: f.image, mask: f.mask)
                }
                let path = URL(fileURLWithPath: out).appendingPathComponent("Synthetic/\(seq.name)_sheet.png").path
                try ImageIO.write(sheet, to: path)
                print("contact sheet: \(path)")
            }
        }
    }
}
