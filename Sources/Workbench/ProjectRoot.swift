import Foundation

/// Finds the project root (the folder holding Package.swift and Scripts/) so scripts can `require` from
/// Scripts/ wherever the executable was started.
public enum ProjectRoot {
    /// The first folder, walking up from the executable and then from the current directory, that holds
    /// Package.swift and a Scripts/ folder; nil when there is none (an installed binary).
    public static func discover() -> String? {
        var starts: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for start in starts {
            var dir = start.standardizedFileURL
            while true {
                if isRoot(dir.path) { return dir.path }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// Whether `path` looks like the project root.
    public static func isRoot(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path + "/Package.swift")
            && FileManager.default.fileExists(atPath: path + "/Scripts", isDirectory: &isDir) && isDir.boolValue
    }
}
