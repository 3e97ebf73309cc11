import Foundation

/// YouTube-VOS: root/<split>/JPEGImages/<video>/*.jpg, root/<split>/Annotations/<video>/*.png (sparse palette PNGs:
/// in valid/test only each object's first frame), root/<split>/meta.json {"videos": {video: {"objects": {id:
/// {"category", "frames": [...]}}}}}. Objects may first appear after the video's first frame.
public struct YouTubeVOSDataset: VOSDataset {
    public let root: String
    /// Split folder: "train", "valid", "test".
    public let split: String
    public let sequenceNames: [String]
    /// Objects per video from meta.json.
    let meta: [String: [VOSObject]]

    /// The layout this reader expects, for error messages.
    public var expectedLayout: String {
        "<root>/\(split)/JPEGImages/<video>/*.jpg, <root>/\(split)/Annotations/<video>/*.png, <root>/\(split)/meta.json"
    }

    /// Opens a split and parses its meta.json; throws naming the missing folder/file or the malformed key.
    public init(root: String, split: String = "valid") throws {
        self.root = root; self.split = split
        let layout = "<root>/\(split)/JPEGImages/<video>/*.jpg, <root>/\(split)/Annotations/<video>/*.png, <root>/\(split)/meta.json"
        let base = root + "/" + split
        try DatasetListing.requireFolder(root, layout)
        try DatasetListing.requireFolder(base, layout)
        try DatasetListing.requireFolder(base + "/JPEGImages", layout)
        try DatasetListing.requireFolder(base + "/Annotations", layout)
        let metaPath = base + "/meta.json"
        guard FolderListing.isFile(metaPath), let data = FileManager.default.contents(atPath: metaPath) else {
            throw VOSDatasetError.missingFile(path: metaPath, expectedLayout: layout)
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let videos = json["videos"] as? [String: Any] else {
            throw VOSDatasetError.malformed(path: metaPath, reason: "expected a JSON object with a \"videos\" object")
        }
        var meta: [String: [VOSObject]] = [:]
        for (video, value) in videos {
            guard let entry = value as? [String: Any], let objects = entry["objects"] as? [String: Any] else {
                throw VOSDatasetError.malformed(path: metaPath, reason: "videos.\(video) has no \"objects\" object")
            }
            var list: [VOSObject] = []
            for (key, o) in objects {
                guard let id = Int(key), let obj = o as? [String: Any], let frames = obj["frames"] as? [String],
                      let first = frames.first else {
                    throw VOSDatasetError.malformed(path: metaPath, reason: "videos.\(video).objects.\(key) needs an integer id and a non-empty \"frames\" list")
                }
                list.append(VOSObject(id: id, firstFrame: first, frames: frames, category: obj["category"] as? String))
            }
            meta[video] = list.sorted { $0.id < $1.id }
        }
        self.meta = meta
        sequenceNames = meta.keys.sorted(by: FolderListing.byteOrder)
    }

    public func sequence(_ name: String) throws -> VOSSequence {
        guard let objects = meta[name] else {
            throw VOSDatasetError.unknownSequence(name: name, dataset: "YouTube-VOS \(split)")
        }
        let base = root + "/" + split
        let frames = try DatasetListing.frames(base + "/JPEGImages/" + name, expectedLayout)
        let annFolder = base + "/Annotations/" + name
        let stems = try DatasetListing.pngs(annFolder, expectedLayout)
        let index = Dictionary(frames.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        let annotations = stems.map {
            VOSAnnotation(frame: $0, frameIndex: index[$0], storage: .palette(path: annFolder + "/" + $0 + ".png", binary: false))
        }
        return VOSSequence(name: name, frames: frames, objects: objects, annotations: annotations)
    }
}
