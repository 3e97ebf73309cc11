import Foundation

/// Writes synthetic videos in the DAVIS 2017 layout: root/JPEGImages/480p/<seq>/%05d.jpg,
/// root/Annotations/480p/<seq>/%05d.png (palette, index = object id), root/ImageSets/2017/val.txt,
/// plus root/Synthetic/<seq>.json (config and event schedule, so hidden frames are known to evaluators).
public enum SyntheticDataset {
    /// A sequence to write: its folder name and config.
    public struct Sequence: Sendable {
        /// Folder name (e.g. "synth_0000").
        public var name: String
        /// Video config (including its seed).
        public var config: SyntheticVideoConfig
        /// Pairs a name with a config.
        public init(name: String, config: SyntheticVideoConfig) { self.name = name; self.config = config }
    }

    /// The seed of video `index` of a set made from `base` (distinct, well mixed, reproducible).
    public static func videoSeed(base: UInt64, index: Int) -> UInt64 { SplitMix64.hash(base, index, 0x5EED) }

    /// Sequence name of video `index` ("synth_0000", …).
    public static func sequenceName(_ index: Int) -> String { String(format: "synth_%04d", index) }

    /// Writes every sequence and the val.txt listing them; `progress(framesDone, framesTotal)` is called from
    /// the calling thread after each batch. Frames are rendered and encoded in parallel batches, so memory
    /// stays at a few frames whatever the video length.
    public static func write(root: String, sequences: [Sequence],
                             progress: ((Int, Int) -> Void)? = nil) throws {
        let total = sequences.reduce(0) { $0 + $1.config.frames }
        var done = 0
        for seq in sequences {
            let generator = try SyntheticVideoGenerator(config: seq.config)
            try generator.write(root: root, sequence: seq.name) { n in progress?(done + n, total) }
            done += seq.config.frames
        }
        try writeImageSet(root: root, names: sequences.map(\.name))
    }

    /// Writes root/ImageSets/2017/val.txt with one sequence name per line.
    public static func writeImageSet(root: String, names: [String]) throws {
        let dir = URL(fileURLWithPath: root).appendingPathComponent("ImageSets/2017")
        try makeDirectory(dir.path)
        let path = dir.appendingPathComponent("val.txt").path
        do { try (names.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8) }
        catch { throw SyntheticVideoError.unwritable(path: path, reason: error.localizedDescription) }
    }

    static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { throw SyntheticVideoError.unwritable(path: path, reason: error.localizedDescription) }
    }
}

/// What root/Synthetic/<seq>.json holds.
public struct SyntheticSequenceInfo: Codable, Sendable, Equatable {
    /// The config the sequence was made from.
    public var config: SyntheticVideoConfig
    /// Its exits and occlusions.
    public var events: [SyntheticEvent]
}

extension SyntheticVideoGenerator {
    /// Writes this video as sequence `sequence` under `root` (DAVIS layout, JPEG at the config's quality);
    /// `progress(framesDone)` is called on the calling thread after each parallel batch.
    public func write(root: String, sequence: String, progress: ((Int) -> Void)? = nil) throws {
        let base = URL(fileURLWithPath: root)
        let jpgDir = base.appendingPathComponent("JPEGImages/480p/\(sequence)").path
        let pngDir = base.appendingPathComponent("Annotations/480p/\(sequence)").path
        let metaDir = base.appendingPathComponent("Synthetic").path
        for d in [jpgDir, pngDir, metaDir] { try SyntheticDataset.makeDirectory(d) }
        // A rewrite of a sequence must not leave frames of an earlier, longer or differently sized run behind:
        // readers list the folder. Only files named as this writer names frames are removed.
        for (dir, ext) in [(jpgDir, "jpg"), (pngDir, "png")] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            where name.count == 9 && name.hasSuffix("." + ext) && Int(name.prefix(5)) != nil {
                try? FileManager.default.removeItem(atPath: dir + "/" + name)
            }
        }

        let metaPath = metaDir + "/\(sequence).json"
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(SyntheticSequenceInfo(config: config, events: events)).write(to: URL(fileURLWithPath: metaPath))
        } catch { throw SyntheticVideoError.unwritable(path: metaPath, reason: error.localizedDescription) }

        // One frame per worker: rendering is cheap next to JPEG/PNG encoding, which is single-threaded per image.
        let batch = max(1, Parallel.threadCount * 2)
        let lock = NSLock()
        var firstError: Error?
        var start = 0
        while start < config.frames {
            let n = min(batch, config.frames - start)
            Parallel.forEach(n) { k in
                let i = start + k
                do {
                    var image = Image8(width: config.width, height: config.height, channels: 3)
                    var mask = IndexMask(width: config.width, height: config.height)
                    try render(i, into: &image, mask: &mask, parallel: false)
                    let name = String(format: "%05d", i)
                    try ImageIO.write(image, to: "\(jpgDir)/\(name).jpg", jpegQuality: config.jpegQuality)
                    try ImageIO.write(mask, to: "\(pngDir)/\(name).png")
                } catch {
                    lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                }
            }
            if let firstError { throw firstError }
            start += n
            progress?(start)
        }
    }
}
