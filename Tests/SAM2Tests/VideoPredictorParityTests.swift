import Foundation
import XCTest
import SAM2

/// End-to-end parity of SAM2VideoPredictor (reduced SAM 2.1 model, 10 frames of 320×180) with the official
/// `SAM2VideoPredictor` (Fixtures/video_model, Scripts/fixtures/make_video_model_fixtures.py): every scenario's
/// calls and propagations are replayed from video.json and compared per frame.
final class VideoPredictorParityTests: XCTestCase {
    static let dir = fixturesDir.appendingPathComponent("video_model")
    nonisolated(unsafe) static var cachedModel: SAM2VideoModel?

    static func model() throws -> SAM2VideoModel {
        if let m = cachedModel { return m }
        let ckpt = try Checkpoint.open(fixturesDir.appendingPathComponent("image_model/sam2.1-mini.pt").path)
        let config = try SAM2ModelConfig.inferred(from: ckpt, imageSize: 256, encoder: HieraTests.miniEncoder)
        let m = try SAM2VideoModel(model: try SAM2Model(checkpoint: ckpt, config: config), checkpoint: ckpt)
        cachedModel = m
        return m
    }

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.dir.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func npy(_ record: Any?) throws -> Tensor {
        let file = (record as! [String: Any])["file"] as! String
        return try Npy.read(Self.dir.appendingPathComponent(file).path)
    }

    /// ‖a − b‖ / ‖b‖ over all elements.
    func relativeL2(_ a: Tensor, _ b: Tensor) -> Float {
        var num: Double = 0, den: Double = 0
        for i in 0..<b.count { let d = Double(a.data[i] - b.data[i]); num += d * d; den += Double(b.data[i]) * Double(b.data[i]) }
        return Float((num / max(den, 1e-30)).squareRoot())
    }

    func testPreprocessingMatchesOfficialLoader() throws {
        let m = try Self.model()
        let p = try SAM2VideoPredictor(model: m, folder: Self.dir.appendingPathComponent("frames").path)
        XCTAssertEqual(p.numFrames, 10)
        XCTAssertEqual(p.frames.width, 320)
        XCTAssertEqual(p.frames.height, 180)
        for t in [0, 7] {
            let expected = try fixture("video_model/preprocess/frame\(t).npy")
            // JPEG decode (libjpeg-turbo, as PIL) + Pillow's fixed-point bicubic: exact up to float rounding.
            assertClose(try p.frameTensor(t).reshaped([3, 256, 256]), expected, atol: 1e-5, "frame \(t)")
        }
    }

    func testScenarios() throws {
        let m = try Self.model()
        let video = try json("video.json")
        let p = try SAM2VideoPredictor(model: m, folder: Self.dir.appendingPathComponent("frames").path)
        var report: [String] = []
        var worstLogitErr: Float = 0
        for scenario in video["scenarios"] as! [[String: Any]] {
            let name = scenario["name"] as! String
            if name != "e_refine" { p.reset() }
            for (i, call) in (scenario["calls"] as! [[String: Any]]).enumerated() {
                let a = call["args"] as! [String: Any]
                let frame = a["frame_idx"] as! Int, obj = a["obj_id"] as! Int
                let r: VideoFrameResult
                if call["method"] as! String == "add_new_mask" {
                    let mask = try npy(a["mask"])
                    r = try p.addMask(frame: frame, objectId: obj, mask: mask)
                } else {
                    let pts = (a["points"] as? [[Double]])?.map { $0.map(Float.init) } ?? []
                    let labels = a["labels"] as? [Int] ?? []
                    let box = (a["box"] as? [Double])?.map(Float.init)
                    r = try p.addPoints(frame: frame, objectId: obj, points: pts, labels: labels, box: box,
                                        clearOldPoints: a["clear_old_points"] as? Bool ?? true)
                }
                let out = try XCTUnwrap(p.output(objectId: obj, frame: frame))
                let score = Float((call["object_score_logits"] as! [[Double]])[0][0])
                let ptr = Tensor(shape: [1, m.hiddenDim], data: (call["obj_ptr"] as! [[Double]])[0].map(Float.init))
                XCTAssertEqual(out.objectScore, score, accuracy: 1e-3 * max(1, abs(score)), "\(name) call\(i) score")
                assertClose(out.objPtr, ptr, atol: 1e-3, rtol: 1e-3, "\(name) call\(i) obj_ptr")
                let expected = try npy(call["pred_masks"])
                let err = relativeL2(out.predMasks, expected)
                worstLogitErr = max(worstLogitErr, err)
                report.append("\(name) call\(i): logits relL2 \(err), score \(out.objectScore) vs \(score), ptr maxdiff \(out.objPtr.maxAbsDifference(ptr))")
                XCTAssertLessThan(err, 1e-4, "\(name) call\(i) pred_masks")
                let binary = try npy(call["video_res_masks_binary"])
                let mismatched = zip(r.videoResMasks.data, binary.data).filter { ($0 > 0) != ($1 != 0) }.count
                XCTAssertEqual(r.videoResMasks.shape, binary.shape)
                XCTAssertLessThanOrEqual(mismatched, 20, "\(name) call\(i) video-res binary masks differ at \(mismatched) px")
                if let vr = call["video_res_masks"] { assertClose(r.videoResMasks, try npy(vr), atol: 1e-2, rtol: 1e-3, "\(name) call\(i) video res") }
            }
            for (j, prop) in (scenario["propagations"] as! [[String: Any]]).enumerated() {
                let a = prop["args"] as! [String: Any]
                let order = prop["frame_order"] as! [Int]
                let ids = prop["obj_ids"] as! [Int]
                XCTAssertEqual(p.objectIds, ids)
                let masks = try npy(prop["pred_masks"]), scores = try npy(prop["object_score_logits"])
                let ptrs = try npy(prop["obj_ptr"])
                guard masks.shape == [order.count, ids.count, 64, 64], scores.shape == [order.count, ids.count],
                      ptrs.shape == [order.count, ids.count, m.hiddenDim] else {
                    XCTFail("\(name) prop\(j): fixture shapes \(masks.shape) \(scores.shape) \(ptrs.shape) do not match \(order.count) frames × \(ids.count) objects")
                    continue
                }
                let mm = prop["maskmem_features"] as? [String: Any]
                let mmFrames = mm?["frames"] as? [Int] ?? []
                let mmExpected = try mm.map { try npy($0["file"]) }
                var got: [Int] = []
                let plane = 64 * 64
                var videoRes: [String: Tensor] = [:]
                try p.propagate(start: a["start_frame_idx"] as? Int, maxFrames: a["max_frame_num_to_track"] as? Int,
                                reverse: a["reverse"] as? Bool ?? false) { r in
                    let k = got.count
                    got.append(r.frameIndex)
                    guard k < order.count else { return false }
                    videoRes[String(r.frameIndex)] = r.videoResMasks
                    for (o, id) in ids.enumerated() {
                        let out = try XCTUnwrap(p.output(objectId: id, frame: r.frameIndex))
                        if let f = mmFrames.firstIndex(of: r.frameIndex), let mmExpected {
                            let n = m.memDim * 16 * 16
                            let e = Tensor(shape: [1, m.memDim, 16, 16], data: Array(mmExpected.data[((f * ids.count + o) * n)..<((f * ids.count + o + 1) * n)]))
                            let actual = try XCTUnwrap(out.maskmemFeatures?.tensor)
                            let merr = self.relativeL2(actual, e)
                            XCTAssertLessThan(merr, 1e-2, "\(name) prop\(j) frame \(r.frameIndex) obj \(id) maskmem (bf16)")
                            report.append("\(name) prop\(j) f\(r.frameIndex) o\(id): maskmem relL2 \(merr)")
                        }
                        let exp = Tensor(shape: [1, 1, 64, 64], data: Array(masks.data[((k * ids.count + o) * plane)..<((k * ids.count + o + 1) * plane)]))
                        let err = relativeL2(r.lowResMasks.slice(axis: 0, start: o, end: o + 1), exp)
                        worstLogitErr = max(worstLogitErr, err)
                        XCTAssertLessThan(err, 1e-4, "\(name) prop\(j) frame \(r.frameIndex) obj \(id) logits")
                        let s = scores.data[k * ids.count + o]
                        XCTAssertEqual(out.objectScore, s, accuracy: 1e-3 * max(1, abs(s)), "\(name) prop\(j) frame \(r.frameIndex) obj \(id) score")
                        let c = m.hiddenDim
                        let ep = Tensor(shape: [1, c], data: Array(ptrs.data[((k * ids.count + o) * c)..<((k * ids.count + o + 1) * c)]))
                        let pe = out.objPtr.maxAbsDifference(ep)
                        XCTAssertLessThan(pe, 2e-3, "\(name) prop\(j) frame \(r.frameIndex) obj \(id) obj_ptr")
                        report.append("\(name) prop\(j) f\(r.frameIndex) o\(id): logits relL2 \(err), score d \(abs(out.objectScore - s)), ptr d \(pe)")
                    }
                    return true
                }
                XCTAssertEqual(got, order, "\(name) prop\(j) frame order")
                for (f, rec) in prop["video_res_masks"] as? [String: Any] ?? [:] {
                    let actual = try XCTUnwrap(videoRes[f])
                    let err = relativeL2(actual, try npy(rec))
                    report.append("\(name) prop\(j) video res f\(f): relL2 \(err)")
                    XCTAssertLessThan(err, 1e-3, "\(name) prop\(j) video res frame \(f)")
                }
            }
        }
        print(report.joined(separator: "\n"))
        print("worst per-frame logits relative L2: \(worstLogitErr)")
    }
}
