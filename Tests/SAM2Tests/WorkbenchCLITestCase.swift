import Foundation
import XCTest

/// Base of the tests that run the built `workbench` binary (.build/release/workbench; they skip when it is
/// missing): a temporary folder per test, the process runner, and the reduced model's loading options.
class WorkbenchCLITestCase: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binary = packageRoot.appendingPathComponent(".build/release/workbench")
    /// The reduced trunk is not a released Hiera size: its window spec and global blocks come from the options.
    var modelArgs: [String] {
        ["--checkpoint", fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path, "--image-size", "256",
         "--hiera-window-spec", "8,4,14,7", "--hiera-global-att-blocks", "4"]
    }
    var tmp: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw XCTSkip("no \(Self.binary.path): run `swift build -c release` first")
        }
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let tmp { try? FileManager.default.removeItem(at: tmp) }
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    /// Runs the binary with `args`, collecting exit status, stdout and stderr.
    func workbench(_ args: [String]) throws -> Run {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
