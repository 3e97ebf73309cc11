import Foundation

/// A video object segmentation dataset: named sequences of frames with sparse or dense object annotations.
/// Listing is cheap; pixels are only read by `VOSFrame.loadImage()` and `VOSAnnotation.load…()`.
public protocol VOSDataset: Sendable {
    /// Dataset root folder.
    var root: String { get }
    /// Sequence (video) names of the selected split, in order.
    var sequenceNames: [String] { get }
    /// Frames, objects and annotation files of one sequence (file listings only); throws for an unknown name or
    /// a malformed sequence folder.
    func sequence(_ name: String) throws -> VOSSequence
}

extension VOSDataset {
    /// Every sequence of the split.
    public func sequences() throws -> [VOSSequence] { try sequenceNames.map { try sequence($0) } }
}

/// One video frame; the image is read on demand.
public struct VOSFrame: Sendable, Hashable {
    /// Position in the sequence (0-based).
    public let index: Int
    /// File stem (e.g. "00000"), the key annotations use.
    public let name: String
    /// JPEG path.
    public let imagePath: String

    /// The frame as RGB.
    public func loadImage() throws -> Image8 { try ImageIO.readRGB(imagePath) }
}

/// An object of a sequence.
public struct VOSObject: Sendable, Hashable {
    /// Object id (palette index, or the SA-V object folder's number).
    public let id: Int
    /// Frame name of its first annotation (YouTube-VOS objects may first appear after frame 0).
    public let firstFrame: String
    /// Frames on which it is annotated or listed (YouTube-VOS meta.json "frames").
    public let frames: [String]
    /// Category name when the dataset gives one.
    public let category: String?
}

/// The annotation of one frame and where its masks are stored.
public struct VOSAnnotation: Sendable {
    /// How the masks of one frame are stored.
    public enum Storage: Sendable, Equatable {
        /// One palette PNG, index = object id (255 = void); `binary`: any non-zero pixel is object 1 (DAVIS 2016).
        case palette(path: String, binary: Bool)
        /// One PNG per object id, any non-zero pixel is the object (SA-V).
        case perObject([Int: String])
    }

    /// Frame name (file stem).
    public let frame: String
    /// Index of that frame in the sequence's frames, nil if the frame has no image.
    public let frameIndex: Int?
    /// Files holding the masks.
    public let storage: Storage

    /// Object ids → binary masks (void and background excluded).
    public func loadObjects() throws -> [Int: BitMask] {
        switch storage {
        case let .palette(path, binary):
            let mask = try ImageIO.readIndexMask(path)
            if binary { return [1: BitMask(nonZeroOf: mask)] }
            let ids = mask.objectIDs.filter { $0 != 255 }
            return Dictionary(uniqueKeysWithValues: zip(ids, BitMask.objects(mask, ids: ids)))
        case let .perObject(files):
            var out: [Int: BitMask] = [:]
            for (id, path) in files { out[id] = BitMask(nonZeroOf: try ImageIO.readIndexMask(path)) }
            return out
        }
    }

    /// The annotation as one index mask. Palette storage: as stored (binary: non-zero → 1). Per-object storage:
    /// files merged with index = id + 1 (SA-V ids start at 0, which would be background), higher ids win on overlap.
    public func loadIndexMask() throws -> IndexMask {
        switch storage {
        case let .palette(path, binary):
            var mask = try ImageIO.readIndexMask(path)
            if binary { for i in mask.indices.indices where mask.indices[i] != 0 { mask.indices[i] = 1 } }
            return mask
        case let .perObject(files):
            var merged: IndexMask? = nil
            for id in files.keys.sorted() {
                guard let path = files[id] else { continue }
                let m = try ImageIO.readIndexMask(path)
                guard (0...254).contains(id) else {
                    throw VOSDatasetError.malformed(path: path, reason: "object id \(id) does not fit an index mask (0…254)")
                }
                if merged == nil { merged = IndexMask(width: m.width, height: m.height) }
                guard m.width == merged?.width, m.height == merged?.height else {
                    throw VOSDatasetError.malformed(path: path, reason: "mask is \(m.width)×\(m.height), other objects of frame \(frame) are \(merged?.width ?? 0)×\(merged?.height ?? 0)")
                }
                for i in m.indices.indices where m.indices[i] != 0 { merged?.indices[i] = UInt8(id + 1) }
            }
            guard let out = merged else {
                throw VOSDatasetError.malformed(path: frame, reason: "annotation of frame \(frame) has no object files")
            }
            return out
        }
    }
}

/// A sequence's frames, objects and annotations.
public struct VOSSequence: Sendable {
    /// Sequence (video) name.
    public let name: String
    /// Frames in order.
    public let frames: [VOSFrame]
    /// Objects, by id.
    public let objects: [VOSObject]
    /// Annotated frames, in frame order.
    public let annotations: [VOSAnnotation]

    /// The annotation of frame `name`, if any.
    public func annotation(for frame: String) -> VOSAnnotation? { annotations.first { $0.frame == frame } }
}

/// Listing helpers with the dataset's typed errors.
enum DatasetListing {
    static func requireFolder(_ path: String, _ layout: String) throws {
        guard FolderListing.isDirectory(path) else { throw VOSDatasetError.missingFolder(path: path, expectedLayout: layout) }
    }

    /// Frames of a folder of JPEGs (sorted by name); throws if the folder is missing or holds none.
    static func frames(_ folder: String, _ layout: String) throws -> [VOSFrame] {
        try requireFolder(folder, layout)
        let stems = FolderListing.stems(folder, ext: "jpg") ?? []
        guard !stems.isEmpty else { throw VOSDatasetError.missingFile(path: folder + "/*.jpg", expectedLayout: layout) }
        return stems.enumerated().map { VOSFrame(index: $0.offset, name: $0.element, imagePath: folder + "/" + $0.element + ".jpg") }
    }

    /// Stems of the PNGs of a folder; throws if the folder is missing or holds none.
    static func pngs(_ folder: String, _ layout: String) throws -> [String] {
        try requireFolder(folder, layout)
        let stems = FolderListing.stems(folder, ext: "png") ?? []
        guard !stems.isEmpty else { throw VOSDatasetError.missingFile(path: folder + "/*.png", expectedLayout: layout) }
        return stems
    }
}
