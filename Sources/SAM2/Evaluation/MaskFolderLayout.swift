import Foundation

/// How a folder of masks is organised, for ground truth and predictions alike.
public enum MaskFolderLayout: String, Sendable, CaseIterable {
    /// DAVIS: `<seq>/<frame>.png`, one palette PNG per frame, index = object id (255 = void in the ground truth).
    case palette
    /// SA-V: `<seq>/<obj>/<frame>.png`, one folder per object, any non-zero pixel is the object.
    case perObject

    /// Human-readable layout for error messages.
    public var expected: String {
        switch self {
        case .palette: return "DAVIS layout <root>/<sequence>/<frame>.png (palette PNGs, index = object id)"
        case .perObject: return "per-object layout <root>/<sequence>/<object>/<frame>.png (one folder per object)"
        }
    }
}

/// Directory listing helpers shared by the evaluation and the dataset readers.
enum FolderListing {
    /// True when `path` is an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    /// True when `path` is an existing regular file.
    static func isFile(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && !dir.boolValue
    }

    /// Sorted names of the sub-folders of `path` (hidden ones skipped); nil when `path` is not a folder.
    static func subfolders(_ path: String) -> [String]? {
        guard isDirectory(path), let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        return names.filter { !$0.hasPrefix(".") && isDirectory(path + "/" + $0) }.sorted(by: byteOrder)
    }

    /// Sorted stems of the files in `path` ending in `.ext`; nil when `path` is not a folder.
    static func stems(_ path: String, ext: String) -> [String]? {
        guard isDirectory(path), let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        let suffix = "." + ext.lowercased()
        return names.filter { !$0.hasPrefix(".") && $0.hasSuffix(suffix) }
            .map { String($0.dropLast(suffix.count)) }.sorted(by: byteOrder)
    }

    /// Byte-wise order of the UTF-8 names (Python's sorted() of glob paths for ASCII names).
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
}
