import Foundation
import XCTest
import Workbench

/// Every Examples/*.lua runs as-is (output into a temporary folder given as arg[1]).
final class ExamplesTests: XCTestCase {
    func testEveryExampleRuns() throws {
        let folder = projectRoot + "/Examples"
        let scripts = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".lua") }.sorted()
        XCTAssertFalse(scripts.isEmpty)
        for script in scripts {
            let out = try temporaryFolder(self)
            let s = try LuaState(projectRoot: projectRoot)
            XCTAssertNoThrow(try s.run(file: folder + "/" + script, arguments: [out]), script)
        }
    }

    func testSegmentImageExampleWritesItsFiles() throws {
        let out = try temporaryFolder(self)
        let s = try LuaState(projectRoot: projectRoot)
        try s.run(file: projectRoot + "/Examples/segment_image.lua", arguments: [out])
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/mask.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/overlay.png"))
    }

    /// The ```lua snippets of docs/lua-api.md, concatenated, run from the project root (outputs in out/api/).
    func testDocumentationSnippetsRun() throws {
        let doc = try String(contentsOfFile: projectRoot + "/docs/lua-api.md", encoding: .utf8)
        var snippets: [String] = []
        var rest = Substring(doc)
        while let start = rest.range(of: "```lua\n"), let end = rest[start.upperBound...].range(of: "```") {
            snippets.append(String(rest[start.upperBound..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        XCTAssertGreaterThan(snippets.count, 10)
        let script = try temporaryFolder(self) + "/doc.lua"
        try write(snippets.joined(separator: "\n"), to: script)
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(projectRoot)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let s = try LuaState(projectRoot: projectRoot)
        XCTAssertNoThrow(try s.run(file: script))
    }
}
