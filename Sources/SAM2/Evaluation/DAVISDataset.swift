import Foundation

/// DAVIS 2016 / 2017: root/JPEGImages/<res>/<seq>/*.jpg, root/Annotations/<res>/<seq>/*.png (palette, id = object,
/// 255 = void), root/ImageSets/<year>/<split>.txt (one sequence per line). DAVIS 2016 is single-object: any non-zero
/// annotation pixel is object 1. Objects are ids 1…max of the first annotation, as the DAVIS 2017 toolkit counts them.
public struct DAVISDataset: VOSDataset {
    /// The benchmark edition.
    public enum Year: Int, Sendable { case davis2016 = 2016, davis2017 = 2017 }

    public let root: String
    /// Edition (decides the ImageSets list and single- vs multi-object annotations).
    public let year: Year
    /// Split list name, e.g. "train", "val", "test-dev".
    public let split: String
    /// Resolution folder: "480p" or "Full-Resolution".
    public let resolution: String
    public let sequenceNames: [String]

    /// The layout this reader expects, for error messages.
    public var expectedLayout: String {
        "<root>/JPEGImages/\(resolution)/<sequence>/*.jpg, <root>/Annotations/\(resolution)/<sequence>/*.png, <root>/ImageSets/\(year.rawValue)/\(split).txt"
    }

    /// Folder of the sequences' annotation folders (a ground-truth folder for `VOSEvaluation` with the palette layout).
    public var annotationsFolder: String { root + "/Annotations/" + resolution }

    /// Opens a split; throws naming the first missing folder or list file.
    public init(root: String, year: Year = .davis2017, split: String = "val", resolution: String = "480p") throws {
        self.root = root; self.year = year; self.split = split; self.resolution = resolution
        let layout = "<root>/JPEGImages/\(resolution)/<sequence>/*.jpg, <root>/Annotations/\(resolution)/<sequence>/*.png, <root>/ImageSets/\(year.rawValue)/\(split).txt"
        try DatasetListing.requireFolder(root, layout)
        try DatasetListing.requireFolder(root + "/JPEGImages/" + resolution, layout)
        try DatasetListing.requireFolder(root + "/Annotations/" + resolution, layout)
        let list = root + "/ImageSets/\(year.rawValue)/\(split).txt"
        guard FolderListing.isFile(list), let text = try? String(contentsOfFile: list, encoding: .utf8) else {
            throw VOSDatasetError.missingFile(path: list, expectedLayout: layout)
        }
        // DAVIS 2016's own lists hold "/JPEGImages/480p/bear/00000.jpg /Annotations/…" lines: keep the sequence.
        var names: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let field = line.split(separator: " ").first.map(String.init) ?? ""
            guard !field.isEmpty else { continue }
            let parts = field.split(separator: "/")
            let name = parts.count >= 2 && field.hasPrefix("/") ? String(parts[parts.count - 2]) : field
            if names.last != name && !names.contains(name) { names.append(name) }
        }
        guard !names.isEmpty else { throw VOSDatasetError.malformed(path: list, reason: "lists no sequences") }
        sequenceNames = names
    }

    public func sequence(_ name: String) throws -> VOSSequence {
        guard sequenceNames.contains(name) else {
            throw VOSDatasetError.unknownSequence(name: name, dataset: "DAVIS \(year.rawValue) \(split)")
        }
        let frames = try DatasetListing.frames(root + "/JPEGImages/\(resolution)/" + name, expectedLayout)
        let annFolder = annotationsFolder + "/" + name
        let stems = try DatasetListing.pngs(annFolder, expectedLayout)
        let index = Dictionary(frames.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        let binary = year == .davis2016
        let annotations = stems.map {
            VOSAnnotation(frame: $0, frameIndex: index[$0], storage: .palette(path: annFolder + "/" + $0 + ".png", binary: binary))
        }
        let maxID: Int
        if binary {
            maxID = 1
        } else {
            let first = try ImageIO.readIndexMask(annFolder + "/" + stems[0] + ".png")
            maxID = first.objectIDs.filter { $0 != 255 }.max() ?? 0
        }
        let objects = (0..<maxID).map { VOSObject(id: $0 + 1, firstFrame: stems[0], frames: stems, category: nil) }
        return VOSSequence(name: name, frames: frames, objects: objects, annotations: annotations)
    }
}
