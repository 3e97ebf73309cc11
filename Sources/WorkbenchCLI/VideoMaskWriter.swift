import Foundation
import SAM2

/// Writes one frame's object masks as the official tools/vos_inference.py does: either one palette PNG per frame
/// (index = object id; where masks overlap the smallest id wins, as `put_per_obj_mask`) or, per object, a folder
/// of palette PNGs holding 0/1 (`save_masks_to_dir` with per-object files). Optionally the logits as .npy.
struct VideoMaskWriter {
    /// Output folder (created on first write).
    var directory: String
    /// One folder per object instead of one palette PNG per frame.
    var perObject: Bool
    /// An object's folder name ("1" for `track`, "001" for the SA-V layout of `vos`).
    var folderName: @Sendable (Int) -> String
    /// Palette of the written PNGs (the DAVIS palette unless the input masks brought their own).
    var palette: [UInt8] = DavisPalette.rgb
    /// A pixel belongs to an object where its logit is above this.
    var threshold: Float = 0
    private var madeFolders = Set<String>()

    init(directory: String, perObject: Bool, folderName: @escaping @Sendable (Int) -> String) {
        self.directory = directory
        self.perObject = perObject
        self.folderName = folderName
    }

    /// Writes the masks of `ids` from video-resolution logits [O, 1, H, W] as `<frameName>.png`.
    mutating func writeMasks(frameName: String, ids: [Int], logits: Tensor) throws {
        precondition(logits.rank == 4 && logits.shape[0] == ids.count, "VideoMaskWriter: logits \(logits.shape) for \(ids.count) objects")
        let (h, w) = (logits.shape[2], logits.shape[3])
        if perObject {
            for (k, id) in ids.enumerated() {
                let bits = Self.indices(logits, objects: [k], values: [1], threshold: threshold)
                let folder = try folder(folderName(id))
                try ImageIO.write(IndexMask(width: w, height: h, indices: bits, palette: palette), to: CLI.join(folder, "\(frameName).png"))
            }
        } else {
            // Later objects overwrite earlier ones: largest id first, so the smallest id wins.
            let order = ids.indices.sorted { ids[$0] > ids[$1] }
            let indices = Self.indices(logits, objects: order, values: order.map { UInt8(ids[$0]) }, threshold: threshold)
            let folder = try folder(nil)
            try ImageIO.write(IndexMask(width: w, height: h, indices: indices, palette: palette), to: CLI.join(folder, "\(frameName).png"))
        }
    }

    /// Writes each object's logits [H, W] as `<object>/<frameName>.npy` (float32).
    mutating func writeLogits(frameName: String, ids: [Int], logits: Tensor) throws {
        let (h, w) = (logits.shape[2], logits.shape[3])
        for (k, id) in ids.enumerated() {
            let folder = try folder(folderName(id))
            try Npy.write(logits.select(axis: 0, index: k).reshaped([h, w]), to: CLI.join(folder, "\(frameName).npy"))
        }
    }

    private mutating func folder(_ name: String?) throws -> String {
        let path = name.map { CLI.join(directory, $0) } ?? directory
        if madeFolders.insert(path).inserted {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            catch { throw ImageIOError.unwritable(path: path, reason: "cannot create the folder: \(error.localizedDescription)") }
        }
        return path
    }

    /// Index plane: `values[j]` where object `objects[j]`'s logit > threshold, later entries overwriting earlier ones.
    static func indices(_ logits: Tensor, objects: [Int], values: [UInt8], threshold: Float) -> [UInt8] {
        let plane = logits.shape[2] * logits.shape[3]
        var out = [UInt8](repeating: 0, count: plane)
        logits.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // Assumes src holds [O, 1, H, W] contiguously; chunks write disjoint ranges of dst.
                let (s, d) = (src, dst)
                Parallel.forChunks(plane, grain: 1 << 15) { range in
                    for (k, v) in zip(objects, values) {
                        let base = k * plane
                        for p in range where s[base + p] > threshold { d[p] = v }
                    }
                }
            }
        }
        return out
    }
}
