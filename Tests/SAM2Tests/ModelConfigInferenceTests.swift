import Foundation
import XCTest
import SAM2

/// Config inference on the key → shape lists of all 8 official configs (built with random weights by the fixture script).
final class ModelConfigInferenceTests: XCTestCase {
    func shapes(_ name: String) throws -> [String: [Int]] {
        let url = fixturesDir.appendingPathComponent("checkpoint/shapes/\(name).json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: [Any]]
        return json.mapValues { $0.map { ($0 as! NSNumber).intValue } }
    }

    let names = ["sam2_hiera_t", "sam2_hiera_s", "sam2_hiera_b+", "sam2_hiera_l",
                 "sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l"]

    func testAllOfficialConfigs() throws {
        for name in names {
            let config = InferredModelConfig.infer(shapes: try shapes(name))
            XCTAssertEqual(config.name, name)
            XCTAssertEqual(config.stages, config.size?.stages, name)
        }
        let t = InferredModelConfig.infer(shapes: try shapes("sam2.1_hiera_t"))
        XCTAssertEqual(t.stages, [1, 2, 7, 2]); XCTAssertEqual(t.embedDim, 96)
        XCTAssertEqual(InferredModelConfig.infer(shapes: try shapes("sam2_hiera_l")).stages, [2, 6, 36, 4])
    }

    func testPartialOrForeignStateDictsAreUnknown() throws {
        var mixed = try shapes("sam2.1_hiera_s")
        mixed["no_obj_embed_spatial"] = nil  // half a 2.1 checkpoint is neither family
        XCTAssertEqual(InferredModelConfig.infer(shapes: mixed).name, "unknown")
        XCTAssertEqual(InferredModelConfig.infer(shapes: mixed).size, .small)

        var oddDepth = try shapes("sam2_hiera_t")
        for key in oddDepth.keys where key.hasPrefix("image_encoder.trunk.blocks.11.") { oddDepth[key] = nil }
        XCTAssertNil(InferredModelConfig.infer(shapes: oddDepth).size)

        var wide = try shapes("sam2.1_hiera_b+")
        wide["image_encoder.trunk.patch_embed.proj.weight"] = [128, 3, 7, 7]
        XCTAssertEqual(InferredModelConfig.infer(shapes: wide).name, "unknown")
        XCTAssertEqual(InferredModelConfig.infer(shapes: ["linear.weight": [3, 4]]).name, "unknown")
    }
}
