import Foundation

/// SA-V: root/JPEGImages_24fps/<video>/*.jpg and root/Annotations_6fps/<video>/<object>/*.png — one folder per
/// object (numeric name, e.g. "000"), one binary PNG per annotated frame (every 4th frame at 24 fps).
public struct SAVDataset: VOSDataset {
    public let root: String
    public let sequenceNames: [String]

    /// The layout this reader expects, for error messages.
    public static let expectedLayout =
        "<root>/JPEGImages_24fps/<video>/*.jpg, <root>/Annotations_6fps/<video>/<object id>/*.png"

    /// Folder of the videos' annotation folders (a ground-truth folder for `VOSEvaluation` with the per-object layout).
    public var annotationsFolder: String { root + "/Annotations_6fps" }

    /// Opens the dataset; sequences are the annotated videos. Throws naming the missing folder.
    public init(root: String) throws {
        self.root = root
        try DatasetListing.requireFolder(root, Self.expectedLayout)
        try DatasetListing.requireFolder(root + "/JPEGImages_24fps", Self.expectedLayout)
        try DatasetListing.requireFolder(root + "/Annotations_6fps", Self.expectedLayout)
        sequenceNames = FolderListing.subfolders(root + "/Annotations_6fps") ?? []
        guard !sequenceNames.isEmpty else {
            throw VOSDatasetError.missingFolder(path: root + "/Annotations_6fps/<video>", expectedLayout: Self.expectedLayout)
        }
    }

    public func sequence(_ name: String) throws -> VOSSequence {
        guard sequenceNames.contains(name) else { throw VOSDatasetError.unknownSequence(name: name, dataset: "SA-V at \(root)") }
        let frames = try DatasetListing.frames(root + "/JPEGImages_24fps/" + name, Self.expectedLayout)
        let annFolder = annotationsFolder + "/" + name
        let objectFolders = FolderListing.subfolders(annFolder) ?? []
        guard !objectFolders.isEmpty else {
            throw VOSDatasetError.missingFolder(path: annFolder + "/<object id>", expectedLayout: Self.expectedLayout)
        }
        var objects: [VOSObject] = []
        var files: [String: [Int: String]] = [:]
        for folder in objectFolders {
            guard let id = Int(folder), id >= 0 else {
                throw VOSDatasetError.malformed(path: annFolder + "/" + folder, reason: "object folders must be named by their numeric id (e.g. 000)")
            }
            let stems = try DatasetListing.pngs(annFolder + "/" + folder, Self.expectedLayout)
            objects.append(VOSObject(id: id, firstFrame: stems[0], frames: stems, category: nil))
            for s in stems { files[s, default: [:]][id] = annFolder + "/" + folder + "/" + s + ".png" }
        }
        let index = Dictionary(frames.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        let annotations = files.keys.sorted(by: FolderListing.byteOrder).map { frame in
            VOSAnnotation(frame: frame, frameIndex: index[frame], storage: .perObject(files[frame] ?? [:]))
        }
        return VOSSequence(name: name, frames: frames, objects: objects.sorted { $0.id < $1.id }, annotations: annotations)
    }
}
