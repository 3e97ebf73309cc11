import Foundation
import XCTest
import SAM2

/// SAM2Transforms and ConnectedComponents against the official sam2/utils/transforms.py (Fixtures/amg; hole
/// filling ran there on a scipy 8-connectivity stand-in for the absent CUDA kernel).
final class SAM2TransformsTests: XCTestCase {
    func testImageTransform() throws {
        let u8 = try fixture("amg/image_u8.npy")
        XCTAssertEqual(u8.shape, [90, 130, 3])
        let image = try Image8(width: 130, height: 90, channels: 3, pixels: u8.data.map { UInt8($0) })
        for res in [64, 112] {
            let out = SAM2Transforms(resolution: res)(image)
            // Antialiased bilinear then (x − mean)/std: float32 summation order differs slightly from
            // PyTorch's separable kernel; values are O(2), so 2e-6 is a few ulp.
            assertClose(out, try fixture("amg/image_t\(res).npy"), atol: 2e-6, "resolution \(res)")
        }
        let asTensor = try SAM2Transforms(resolution: 64)(try fixture("amg/image_u8.npy").permuted([2, 0, 1])
            .withUnsafeBufferPointer { b in Tensor(shape: [3, 90, 130], data: b.map { $0 / 255 }) })
        assertClose(asTensor, try fixture("amg/image_t64.npy"), atol: 2e-6, "float input")
        XCTAssertThrowsError(try SAM2Transforms()(Tensor(shape: [4, 5, 5])))
        let batch = SAM2Transforms(resolution: 64).forwardBatch([image, image])
        XCTAssertEqual(batch.shape, [2, 3, 64, 64])
    }

    func testCoordsAndBoxes() throws {
        let t = SAM2Transforms(resolution: 1024)
        let coords = try fixture("amg/coords_in.npy")
        // Exact: one float32 division and one multiplication, as PyTorch.
        XCTAssertEqual(try t.transformCoords(coords, normalize: true, origHW: (389, 517)).data,
                       try fixture("amg/coords_abs.npy").data)
        let normalised = Tensor(shape: coords.shape, data: coords.data.map { $0 / 600 })
        XCTAssertEqual(try t.transformCoords(normalised).data, try fixture("amg/coords_norm.npy").data)
        let boxes = try t.transformBoxes(try fixture("amg/boxes_in.npy"), normalize: true, origHW: (389, 517))
        XCTAssertEqual(boxes.shape, [3, 2, 2])
        XCTAssertEqual(boxes.data, try fixture("amg/boxes_abs.npy").data)
        XCTAssertThrowsError(try t.transformCoords(coords, normalize: true)) { error in
            XCTAssertEqual(error as? SAM2TransformsError, .missingOriginalSize(argument: "coords"))
        }
        XCTAssertThrowsError(try t.transformCoords(Tensor(shape: [2, 3])))
        XCTAssertThrowsError(try t.transformBoxes(Tensor(shape: [2, 3])))
    }

    func testPostprocessMasks() throws {
        let low = try fixture("amg/post_low.npy")
        let cases = try XCTUnwrap(try amgJSON()["postprocess"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let tag = try XCTUnwrap(c["tag"] as? String)
            let t = SAM2Transforms(maskThreshold: try XCTUnwrap(c["threshold"] as? Double),
                                   maxHoleArea: try XCTUnwrap(c["max_hole_area"] as? Double),
                                   maxSprinkleArea: try XCTUnwrap(c["max_sprinkle_area"] as? Double))
            // Same size: bilinear with weights 1 and 0, so the filled logits must match exactly.
            XCTAssertEqual(t.postprocessMasks(low, origHW: (24, 24)).data, try fixture("amg/post_same_\(tag).npy").data, tag)
            // Upsampled: PyTorch's bilinear kernel, a few ulp of logits up to ~±10.
            assertClose(t.postprocessMasks(low, origHW: (45, 71)), try fixture("amg/post_up_\(tag).npy"), atol: 1e-5, tag)
        }
        let filled = SAM2Transforms.fillHolesInMaskScores(low.slice(axis: 1, 0..<1), maxArea: 8)
        XCTAssertEqual(filled.data, try fixture("amg/fill_holes_8.npy").data)
    }

    func testConnectedComponentsMatchScipy() throws {
        let input = try fixture("amg/cc_input.npy")
        let (labels, counts) = ConnectedComponents.getConnectedComponents(input)
        // Exact: both number components in raster order of their first pixel.
        XCTAssertEqual(labels.data, try fixture("amg/cc_labels.npy").data)
        XCTAssertEqual(counts.data, try fixture("amg/cc_areas.npy").data)
    }

    func testConnectedComponentsAgainstFloodFill() {
        // Independent naive reference: BFS flood fill with 8 neighbours on random images of varied density.
        for (seed, density) in [(1, 0.3), (2, 0.5), (3, 0.6), (4, 0.9)] as [(UInt64, Float)] {
            let (h, w) = (31, 47)
            let r = randomTensor([h * w], seed: seed, range: 0...1)
            let fg = r.data.map { $0 < density }
            let cc = ConnectedComponents(foreground: fg, height: h, width: w)
            var ref = [Int32](repeating: 0, count: h * w), next: Int32 = 0
            for start in 0..<(h * w) where fg[start] && ref[start] == 0 {
                next += 1
                ref[start] = next
                var queue = [start]
                while let p = queue.popLast() {
                    for dy in -1...1 { for dx in -1...1 {
                        let (y, x) = (p / w + dy, p % w + dx)
                        guard y >= 0, y < h, x >= 0, x < w, fg[y * w + x], ref[y * w + x] == 0 else { continue }
                        ref[y * w + x] = next
                        queue.append(y * w + x)
                    } }
                }
            }
            XCTAssertEqual(cc.labels, ref, "density \(density)")
            XCTAssertEqual(cc.count, Int(next))
            XCTAssertEqual(cc.areas.reduce(0, +), fg.filter { $0 }.count)
        }
        let empty = ConnectedComponents(foreground: [], height: 0, width: 3)
        XCTAssertEqual(empty.count, 0)
    }
}
