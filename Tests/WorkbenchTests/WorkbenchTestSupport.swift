import Foundation
import XCTest
import Workbench

/// The worktree root (Tests/WorkbenchTests/ is two levels below it).
let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
/// The reduced image-model fixtures.
let imageFixtures = projectRoot + "/Tests/SAM2Tests/Fixtures/image_model"

/// The trunk of the reduced model (Scripts/fixtures/configs/sam2.1_hiera_mini.yaml) as a Lua table literal.
let miniTrunkLua = "{embed_dim = 8, num_heads = 1, stages = {1, 2, 3, 2}, window_spec = {8, 4, 14, 7}, global_att_blocks = {4}, window_pos_embed_bkg_spatial_size = {7, 7}}"

/// A fresh temporary folder removed at the end of the test.
func temporaryFolder(_ test: XCTestCase) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("workbench-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir.path
}

/// Writes `text` to `path`.
func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                            withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

extension LuaState {
    /// The first result of `code` as a string / number (test helper).
    func string(_ code: String) throws -> String? {
        if case let .string(s)? = try execute(code).first { return s }
        return nil
    }

    func number(_ code: String) throws -> Double? { try execute(code).first?.double }

    /// Asserts that each snippet raises a Lua error whose message contains its expected text.
    func assertErrors(_ cases: [(code: String, expected: String)], file: StaticString = #filePath, line: UInt = #line) {
        for (code, expected) in cases {
            XCTAssertThrowsError(try execute(code), file: file, line: line) { e in
                XCTAssertTrue((e as? LuaError)?.message.contains(expected) == true, "\(e) vs \(expected)", file: file, line: line)
            }
        }
    }
}

/// Runs the built `workbench` executable (next to the test bundle); nil when it was not built.
func runWorkbench(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String)? {
    // Next to the test bundle (the configuration under test), else the release build of the worktree.
    let candidates = [Bundle(for: LuaHostTests.self).bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
                      URL(fileURLWithPath: projectRoot + "/.build/release")].map { $0.appendingPathComponent("workbench") }
    guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else { return nil }
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: projectRoot)
    let out = Pipe(), err = Pipe(), input = Pipe()
    p.standardOutput = out; p.standardError = err; p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
