import Foundation
import XCTest
import SAM2

/// amg.json from Scripts/fixtures/make_amg_fixtures.py (variable-length official results).
func amgJSON() throws -> [String: Any] {
    let data = try Data(contentsOf: fixturesDir.appendingPathComponent("amg/amg.json"))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Official amg.py / torchvision.ops results (Fixtures/amg). Everything here is integer or exact-threshold
/// logic, so comparisons are exact unless a tolerance is stated.
final class MaskGenerationUtilitiesTests: XCTestCase {
    typealias U = MaskGenerationUtilities

    func testPointGrids() throws {
        // Exact: numpy's float64 linspace, compared after rounding both to Float.
        for n in [1, 3, 32] {
            let grid = U.buildPointGrid(n)
            let expected = try fixture("amg/grid_\(n).npy")
            XCTAssertEqual(expected.shape, [n * n, 2])
            XCTAssertEqual(grid.flatMap { [Float($0.x), Float($0.y)] }, expected.data, "grid \(n)")
        }
        let json = try amgJSON()
        XCTAssertEqual(U.buildAllLayerPointGrids(nPerSide: 16, nLayers: 2, scalePerLayer: 2).map(\.count),
                       json["all_layer_grid_sizes"] as? [Int])
        // Exact: float64 product rounded once to float32, as the generator's torch.as_tensor does.
        let scaled = U.scalePoints(U.buildPointGrid(32), cropHW: (389, 517))
        XCTAssertEqual(scaled.data, try fixture("amg/grid_32_scaled_389x517.npy").data)
    }

    func testCropBoxes() throws {
        let cases = try XCTUnwrap(try amgJSON()["crop_boxes"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 15)
        for c in cases {
            let size = try XCTUnwrap(c["im_size"] as? [Int]), layers = try XCTUnwrap(c["n_layers"] as? Int)
            let (boxes, idxs) = U.generateCropBoxes(imageSize: (size[0], size[1]), nLayers: layers)
            XCTAssertEqual(boxes.map(\.xyxy), c["boxes"] as? [[Int]], "\(size) layers \(layers)")
            XCTAssertEqual(idxs, c["layer_idxs"] as? [Int], "\(size) layers \(layers)")
        }
    }

    func testStabilityScore() throws {
        let logits = try fixture("amg/stab_logits.npy")
        for (name, thr, off) in [("stab_0_1", 0.0, 1.0), ("stab_05_025", 0.5, 0.25)] {
            let got = U.calculateStabilityScore(logits, maskThreshold: thr, thresholdOffset: off)
            let expected = try fixture("amg/\(name).npy")
            XCTAssertEqual(got.shape, expected.shape)
            for i in 0..<expected.count {
                // Exact, including NaN for an empty union.
                XCTAssertTrue(got.data[i] == expected.data[i] || (got.data[i].isNaN && expected.data[i].isNaN),
                              "\(name)[\(i)]: \(got.data[i]) vs \(expected.data[i])")
            }
        }
        XCTAssertTrue(try fixture("amg/stab_0_1.npy").data[0].isNaN, "fixture covers the 0/0 case")
    }

    func testMaskToBox() throws {
        let masks = try fixture("amg/m2b_masks.npy")
        XCTAssertEqual(U.batchedMaskToBox(masks).data, try fixture("amg/m2b_boxes.npy").data)
        XCTAssertEqual(U.batchedMaskToBox(masks).shape, [2, 3, 4])
        let first = masks.slice(axis: 0, 0..<1).slice(axis: 1, 0..<1).reshaped([17, 23])
        let box2d = U.batchedMaskToBox(first)
        XCTAssertEqual(box2d.shape, [4])
        XCTAssertEqual(box2d.data, try fixture("amg/m2b_boxes_2d.npy").data)
        XCTAssertEqual(U.batchedMaskToBox(Tensor(shape: [3, 0, 5])).shape, [3, 4])
    }

    func testBoxNearCropEdgeAndUncrop() throws {
        let boxes = try fixture("amg/edge_boxes.npy")
        let near = U.isBoxNearCropEdge(boxes, cropBox: CropBox(100, 50, 400, 300), origBox: CropBox(0, 0, 400, 500))
        XCTAssertEqual(near, try fixture("amg/edge_near.npy").data.map { $0 != 0 })
        let masks = try fixture("amg/uncrop_in.npy")
        XCTAssertEqual(U.uncropMasks(masks, cropBox: CropBox(4, 2, 17, 13), origH: 20, origW: 25).data,
                       try fixture("amg/uncrop_out.npy").data)
        let same = U.uncropMasks(masks, cropBox: CropBox(0, 0, 13, 11), origH: 11, origW: 13)
        XCTAssertEqual(same.shape, masks.shape)
        let b = U.uncropBoxesXYXY(Tensor(shape: [1, 4], data: [1, 2, 3, 4]), cropBox: CropBox(10, 20, 50, 60))
        XCTAssertEqual(b.data, [11, 22, 13, 24])
        let p = U.uncropPoints(Tensor(shape: [2, 1, 2], data: [1, 2, 3, 4]), cropBox: CropBox(10, 20, 50, 60))
        XCTAssertEqual(p.data, [11, 22, 13, 24])
        XCTAssertEqual(U.boxXYXYToXYWH(Tensor(shape: [4], data: [3, 4, 10, 20])).data, [3, 4, 7, 16])
        XCTAssertEqual(CropBox(3, 4, 10, 20).xywh, [3, 4, 7, 16])
        XCTAssertEqual(U.batchRanges(batchSize: 64, count: 150), [0..<64, 64..<128, 128..<150])
        XCTAssertEqual(U.batchRanges(batchSize: 5, count: 0), [])
    }

    func testRLE() throws {
        let json = try amgJSON()
        for (masksName, key) in [("rle_masks", "rle"), ("rle_big_masks", "rle_big")] {
            let masks = try fixture("amg/\(masksName).npy")
            let expected = try XCTUnwrap(json[key] as? [[String: Any]])
            let rles = UncompressedRLE.encode(masks)
            XCTAssertEqual(rles.count, expected.count)
            let plane = masks.shape[1] * masks.shape[2]
            for (i, (rle, e)) in zip(rles, expected).enumerated() {
                XCTAssertEqual(rle.size, e["size"] as? [Int], "\(key)[\(i)] size")
                XCTAssertEqual(rle.counts, e["counts"] as? [Int], "\(key)[\(i)] counts")
                XCTAssertEqual(rle.coco.counts, e["coco"] as? String, "\(key)[\(i)] COCO string")
                if let area = e["area"] as? Int { XCTAssertEqual(rle.area, area) }
                // Round trips: RLE → mask, COCO string → counts.
                XCTAssertEqual(try rle.decode().data, Array(masks.data[(i * plane)..<((i + 1) * plane)]))
                XCTAssertEqual(try rle.coco.uncompressed(), rle)
            }
        }
        // Independent naive encoder (walks column-major order one pixel at a time) on odd shapes.
        for (seed, h, w) in [(1, 1, 1), (2, 1, 70), (3, 70, 1), (4, 5, 130), (5, 33, 65)] as [(UInt64, Int, Int)] {
            let m = Tensor(shape: [2, h, w], data: randomTensor([2 * h * w], seed: seed, range: 0...1).data.map { $0 < 0.3 ? 1 : 0 })
            for (k, rle) in UncompressedRLE.encode(m).enumerated() {
                var counts = [Int](), current: Float = 0, run = 0
                for x in 0..<w { for y in 0..<h {
                    let v = m.data[(k * h + y) * w + x]
                    if v != current { counts.append(run); run = 0; current = v }
                    run += 1
                } }
                counts.append(run)
                XCTAssertEqual(rle.counts, counts, "\(h)×\(w) mask \(k)")
            }
        }
        XCTAssertThrowsError(try UncompressedRLE(size: [2, 2], counts: [1, 2]).decode())
        XCTAssertThrowsError(try UncompressedRLE(size: [2, 2], counts: [5, -1]).decode())
        XCTAssertThrowsError(try COCORLE(size: [2, 2], counts: "0 ").uncompressed())
        XCTAssertThrowsError(try COCORLE(size: [2, 2], counts: "o").uncompressed(), "ends mid-number")
    }

    func testRemoveSmallRegions() throws {
        let cases = try XCTUnwrap(try amgJSON()["remove_small_regions"] as? [[String: Any]])
        let base = try fixture("amg/rsr_base.npy"), tie = try fixture("amg/rsr_tie.npy")
        for c in cases {
            let mode = try XCTUnwrap(SmallRegionMode(rawValue: try XCTUnwrap(c["mode"] as? String)))
            let thresh = try XCTUnwrap(c["thresh"] as? Int)
            let isTie = c["name"] as? String == "tie"
            let (mask, changed) = U.removeSmallRegions(isTie ? tie : base, areaThresh: Double(thresh), mode: mode)
            let name = isTie ? "rsr_tie_islands_5" : "rsr_\(mode.rawValue)_\(thresh)"
            XCTAssertEqual(changed, c["changed"] as? Bool, name)
            XCTAssertEqual(mask.data, try fixture("amg/\(name).npy").data, name)
        }
    }

    func testNMS() throws {
        let json = try amgJSON()
        let expected = try XCTUnwrap(json["nms"] as? [String: [Int]])
        let boxes = try fixture("amg/nms_boxes.npy"), scores = try fixture("amg/nms_scores.npy").data
        let idxs = try fixture("amg/nms_idxs.npy").data.map { Int($0) }
        let zeros = [Int](repeating: 0, count: scores.count)
        XCTAssertEqual(BoxOperations.batchedNMS(boxes, scores: scores, idxs: zeros, iouThreshold: 0.5), expected["single_05"])
        XCTAssertEqual(BoxOperations.batchedNMS(boxes, scores: scores, idxs: zeros, iouThreshold: 0.3), expected["single_03"])
        XCTAssertEqual(BoxOperations.batchedNMS(boxes, scores: scores, idxs: idxs, iouThreshold: 0.5), expected["batched_05"])
        let big = try fixture("amg/nms_big_boxes.npy")
        XCTAssertEqual(BoxOperations.batchedNMS(big, scores: try fixture("amg/nms_big_scores.npy").data,
                                                idxs: try fixture("amg/nms_big_idxs.npy").data.map { Int($0) },
                                                iouThreshold: 0.7), expected["big_batched_07"])
        XCTAssertEqual(BoxOperations.batchedNMS(Tensor(shape: [0, 4]), scores: [], idxs: [], iouThreshold: 0.5), [])
        // 1 ulp: same float32 formula as torchvision, but its vectorised min/max may fuse differently.
        assertClose(Tensor(shape: [60], data: BoxOperations.boxArea(boxes)), try fixture("amg/box_area.npy"), atol: 0, rtol: 1.2e-7)
        assertClose(BoxOperations.boxIoU(boxes.slice(axis: 0, 0..<7), boxes.slice(axis: 0, 7..<19)),
                    try fixture("amg/box_iou.npy"), atol: 1e-7, rtol: 1.2e-7)
    }
}
