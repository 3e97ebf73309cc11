import Foundation
import XCTest
import SAM2

/// J&F against Scripts/fixtures/make_metrics_fixtures.py (the DAVIS toolkit's formulas with skimage.disk + cv2.dilate).
/// Tolerances: per-frame J/F and statistics 1e-9 (both sides are double; only summation order differs),
/// boundary maps, dilations and counts exact.
final class MetricsTests: XCTestCase {
    let dir = fixturesDir.appendingPathComponent("metrics")

    func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: dir.appendingPathComponent("expected.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func mask(_ relative: String) throws -> BitMask {
        BitMask(nonZeroOf: try ImageIO.readIndexMask(dir.appendingPathComponent(relative).path))
    }

    func testPairsJAndFMatchToolkit() throws {
        let pairs = try XCTUnwrap(expected()["pairs"] as? [[String: Any]])
        XCTAssertGreaterThan(pairs.count, 15)
        for p in pairs {
            let name = try XCTUnwrap(p["name"] as? String)
            let gt = try mask("pairs/\(name)_gt.png"), pred = try mask("pairs/\(name)_pred.png")
            XCTAssertEqual(gt.width, p["width"] as? Int, name)
            XCTAssertEqual(BoundaryMeasure.radius(width: gt.width, height: gt.height), p["radius"] as? Int, name)
            let j = RegionSimilarity.jaccard(annotation: gt, segmentation: pred)
            let f = BoundaryMeasure.fMeasure(foreground: pred, groundTruth: gt)
            XCTAssertEqual(j, try XCTUnwrap(p["J"] as? Double), accuracy: 1e-9, "J \(name)")
            XCTAssertEqual(f, try XCTUnwrap(p["F"] as? Double), accuracy: 1e-9, "F \(name)")
            let bPred = BoundaryMap.seg2bmap(pred), bGT = BoundaryMap.seg2bmap(gt)
            XCTAssertEqual(bPred.count, p["n_fg_boundary"] as? Int, "boundary count \(name)")
            XCTAssertEqual(bGT.count, p["n_gt_boundary"] as? Int, "gt boundary count \(name)")
            XCTAssertEqual(bPred, try mask("pairs/\(name)_pred_bmap.png"), "seg2bmap \(name)")
        }
    }

    func testDiskDilationIsBitExact() throws {
        let cases = try XCTUnwrap(expected()["dilations"] as? [[String: Any]])
        for c in cases {
            let source = try XCTUnwrap(c["source"] as? String), r = try XCTUnwrap(c["radius"] as? Int)
            let src = try mask("dilation/\(source).png")
            let want = try mask("dilation/\(source)_r\(r).png")
            let got = DiskDilation.dilate(src, radius: r)
            XCTAssertEqual(got, want, "\(source) r=\(r)")
            XCTAssertEqual(got.count, c["count"] as? Int, "\(source) r=\(r)")
            var all = BitMask(width: src.width, height: src.height)
            for y in 0..<src.height { for x in 0..<src.width { all[y, x] = true } }
            XCTAssertEqual(DiskDilation.coveredCount(probe: all, source: src, radius: r), want.count, "\(source) r=\(r)")
        }
    }

    func testDilationAgainstNaiveDisk() throws {
        // Independent reference: for every pixel, any source pixel within dx²+dy² ≤ r².
        var state: UInt64 = 7
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for (w, h, r) in [(1, 1, 0), (70, 9, 4), (130, 17, 6), (3, 40, 9), (64, 64, 11)] {
            var src = BitMask(width: w, height: h)
            for y in 0..<h { for x in 0..<w where next() % 23 == 0 { src[y, x] = true } }
            let got = DiskDilation.dilate(src, radius: r)
            for y in 0..<h {
                for x in 0..<w {
                    var hit = false
                    for sy in max(0, y - r)...min(h - 1, y + r) {
                        for sx in max(0, x - r)...min(w - 1, x + r) where src[sy, sx] {
                            if (sx - x) * (sx - x) + (sy - y) * (sy - y) <= r * r { hit = true }
                        }
                    }
                    XCTAssertEqual(got[y, x], hit, "\(w)×\(h) r=\(r) at (\(x), \(y))")
                }
            }
        }
        XCTAssertEqual(DiskDilation.halfWidths(radius: 8), [8, 7, 7, 7, 6, 6, 5, 3, 0])
    }

    func testSeg2bmapWithExplicitSize() throws {
        let cases = try XCTUnwrap(expected()["seg2bmap_resized"] as? [[String: Any]])
        let small = try mask("seg2bmap/small_10x12.png")
        for c in cases {
            let w = try XCTUnwrap(c["width"] as? Int), h = try XCTUnwrap(c["height"] as? Int)
            let want = try mask("seg2bmap/\(try XCTUnwrap(c["file"] as? String))")
            XCTAssertEqual(try BoundaryMap.seg2bmap(small, width: w, height: h), want, "\(w)×\(h)")
        }
        XCTAssertEqual(try BoundaryMap.seg2bmap(small, width: small.width, height: small.height), BoundaryMap.seg2bmap(small))
        XCTAssertThrowsError(try BoundaryMap.seg2bmap(small, width: 5, height: 4))
    }

    func testStatisticsMatchDBStatistics() throws {
        let cases = try XCTUnwrap(expected()["statistics"] as? [[String: Any]])
        for c in cases {
            let values = try XCTUnwrap(c["values"] as? [Double])
            let s = MetricStatistics(values)
            XCTAssertEqual(s.mean, try XCTUnwrap(c["mean"] as? Double), accuracy: 1e-9, "mean n=\(values.count)")
            XCTAssertEqual(s.recall, try XCTUnwrap(c["recall"] as? Double), accuracy: 1e-12, "recall n=\(values.count)")
            XCTAssertEqual(s.decay, try XCTUnwrap(c["decay"] as? Double), accuracy: 1e-9, "decay n=\(values.count)")
        }
        XCTAssertTrue(MetricStatistics([]).mean.isNaN)
    }

    func testBitMaskObjectsMatchNaive() throws {
        var indices = [UInt8](repeating: 0, count: 131 * 7)
        for i in indices.indices { indices[i] = UInt8([0, 0, 0, 1, 2, 255, 0, 0, 3][(i * 7919) % 9]) }
        let im = try IndexMask(width: 131, height: 7, indices: indices)
        let masks = BitMask.objects(im, ids: [1, 3, 2, 9])
        for (k, id) in [1, 3, 2, 9].enumerated() {
            XCTAssertEqual(masks[k].bits, indices.map { Int($0) == id }, "id \(id)")
            XCTAssertEqual(masks[k], BitMask(im, id: id))
        }
        XCTAssertEqual(BitMask(nonZeroOf: im).bits, indices.map { $0 != 0 })
    }

    func checkEvaluation(_ result: EvaluationResult, against e: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
        let objects = try XCTUnwrap(e["objects"] as? [[String: Any]])
        XCTAssertEqual(result.objects.count, objects.count, "object count", file: file, line: line)
        for (got, want) in zip(result.objects, objects) {
            let name = "\(got.sequence)_\(got.object)"
            XCTAssertEqual(got.sequence, want["sequence"] as? String, file: file, line: line)
            XCTAssertEqual(got.object, want["object"] as? String, file: file, line: line)
            XCTAssertEqual(got.frames, want["frames"] as? [String], name, file: file, line: line)
            let j = try XCTUnwrap(want["J"] as? [Double]), f = try XCTUnwrap(want["F"] as? [Double])
            XCTAssertEqual(got.j.count, j.count, name, file: file, line: line)
            for t in 0..<min(j.count, got.j.count) {
                XCTAssertEqual(got.j[t], j[t], accuracy: 1e-9, "J \(name) frame \(t)", file: file, line: line)
                XCTAssertEqual(got.f[t], f[t], accuracy: 1e-9, "F \(name) frame \(t)", file: file, line: line)
            }
            for (stats, key) in [(got.jStatistics, "J_stats"), (got.fStatistics, "F_stats")] {
                let w = try XCTUnwrap(want[key] as? [Double])
                XCTAssertEqual(stats.mean, w[0], accuracy: 1e-9, "\(key) mean \(name)", file: file, line: line)
                XCTAssertEqual(stats.recall, w[1], accuracy: 1e-9, "\(key) recall \(name)", file: file, line: line)
                XCTAssertEqual(stats.decay, w[2], accuracy: 1e-9, "\(key) decay \(name)", file: file, line: line)
            }
        }
        let g = try XCTUnwrap(e["global"] as? [String: Double])
        for (key, value) in result.global.columns {
            XCTAssertEqual(value, try XCTUnwrap(g[key]), accuracy: 1e-9, key, file: file, line: line)
        }
    }

    func testDavisLayoutEvaluationMatchesToolkit() throws {
        let root = dir.appendingPathComponent("davis")
        let eval = VOSEvaluation(groundTruth: root.appendingPathComponent("gt").path,
                                 predictions: root.appendingPathComponent("pred").path)
        var calls = 0
        let result = try eval.run { done, total in calls += 1; XCTAssertLessThanOrEqual(done, total) }
        XCTAssertEqual(calls, result.framePairs)
        try checkEvaluation(result, against: XCTUnwrap(expected()["davis"] as? [String: Any]))
        XCTAssertEqual(result.missingPredictions.map { URL(fileURLWithPath: $0).lastPathComponent }, ["00011.png", "00004.png"])
        XCTAssertEqual(result.sequences.map(\.name), ["blackswan", "multi"])
        // Selecting one sequence evaluates only it.
        var one = eval; one.sequences = ["multi"]
        XCTAssertEqual(try one.run().objects.map(\.object), ["1", "2", "3"])
        // The outputs parse and carry the global line.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: result.jsonData()) as? [String: Any])
        XCTAssertEqual((json["global"] as? [String: Double])?["J-Mean"] ?? .nan, result.global.jMean, accuracy: 1e-12)
        XCTAssertEqual(result.csv.split(separator: "\n").count, 1 + result.objects.count + 1)
    }

    func testPerObjectLayoutEvaluationMatchesToolkitFormulas() throws {
        let root = dir.appendingPathComponent("sav")
        let result = try VOSEvaluation(groundTruth: root.appendingPathComponent("gt").path,
                                       predictions: root.appendingPathComponent("pred").path, layout: .perObject).run()
        try checkEvaluation(result, against: XCTUnwrap(expected()["per_object"] as? [String: Any]))
        XCTAssertEqual(result.missingPredictions.count, 1 + 3)
    }

    func testEvaluationErrorsAreTyped() throws {
        let root = dir.appendingPathComponent("davis")
        let gt = root.appendingPathComponent("gt").path, pred = root.appendingPathComponent("pred").path
        XCTAssertThrowsError(try VOSEvaluation(groundTruth: "/nonexistent/gt", predictions: pred).run()) { error in
            guard case EvaluationError.missingFolder(let path, _)? = error as? EvaluationError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/gt")
        }
        XCTAssertThrowsError(try VOSEvaluation(groundTruth: gt, predictions: "/nonexistent/pred").run())
        XCTAssertThrowsError(try VOSEvaluation(groundTruth: gt, predictions: pred, sequences: ["nope"]).run()) { error in
            XCTAssertTrue("\(error)".contains("nope"), "\(error)")
        }
        // A prediction of the wrong size names the file.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let seqGT = tmp.appendingPathComponent("gt/s"), seqPred = tmp.appendingPathComponent("pred/s")
        try FileManager.default.createDirectory(at: seqGT, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: seqPred, withIntermediateDirectories: true)
        var m = IndexMask(width: 8, height: 6); m[2, 2] = 1
        for t in 0..<3 { try ImageIO.write(m, to: seqGT.appendingPathComponent("0000\(t).png").path) }
        try ImageIO.write(IndexMask(width: 7, height: 6), to: seqPred.appendingPathComponent("00001.png").path)
        XCTAssertThrowsError(try VOSEvaluation(groundTruth: tmp.appendingPathComponent("gt").path,
                                               predictions: tmp.appendingPathComponent("pred").path).run()) { error in
            guard case EvaluationError.sizeMismatch(let path, _, _)? = error as? EvaluationError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("s/00001.png"))
        }
    }

    /// An evaluation of given per-object J&F values (J = F = the value), one inner array per sequence.
    static func evaluation(_ sequences: [[Double]], offset: Double = 0) throws -> EvaluationResult {
        let seqs: [[String: Any]] = sequences.enumerated().map { i, values in
            ["name": "s\(i)", "objects": values.enumerated().map { k, v -> [String: Any] in
                let stats: [String: Any] = ["mean": v + offset, "recall": 1, "decay": 0]
                return ["sequence": "s\(i)", "object": "\(k + 1)", "frames": ["00001"], "j": [v + offset], "f": [v + offset],
                        "jStatistics": stats, "fStatistics": stats]
            }]
        }
        let global: [String: Any] = ["jAndFMean": 0, "jMean": 0, "jRecall": 0, "jDecay": 0, "fMean": 0, "fRecall": 0, "fDecay": 0]
        let json: [String: Any] = ["sequences": seqs, "global": global, "missingPredictions": [String](), "framePairs": 1]
        return try JSONDecoder().decode(EvaluationResult.self, from: JSONSerialization.data(withJSONObject: json))
    }

    /// The J&F-Mean's interval resamples whole sequences (weighted by their objects, as the toolkit's mean over all
    /// objects), deterministically per seed; a paired difference cancels what two evaluations share.
    func testBootstrapIntervalsOverSequences() throws {
        // Two one-object sequences at 0 and 1: resampled means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
        let coin = try Self.evaluation([[0], [1]])
        let i = try coin.jAndFInterval(resamples: 4000, seed: 1)
        XCTAssertEqual(i.estimate, 0.5)
        XCTAssertEqual(i.lower, 0); XCTAssertEqual(i.upper, 1)
        XCTAssertEqual(i.standardError, 0.5.squareRoot() / 2, accuracy: 0.01)
        XCTAssertEqual(i.sequences, 2); XCTAssertEqual(i.resamples, 4000); XCTAssertEqual(i.level, 0.95)
        XCTAssertEqual(try coin.jAndFInterval(resamples: 4000, seed: 1), i)
        XCTAssertNotEqual(try coin.jAndFInterval(resamples: 4000, seed: 2).standardError, i.standardError)
        // A 40% interval of the same: the 30% and 70% quantiles of {0: 1/4, 0.5: 1/2, 1: 1/4} are both 0.5.
        let half = try coin.jAndFInterval(level: 0.4, resamples: 4000, seed: 1)
        XCTAssertEqual(half.lower, 0.5); XCTAssertEqual(half.upper, 0.5)
        // Objects count as the toolkit counts them (3 objects at 1, 1 at 0: 0.75), but are drawn with their sequence.
        let clustered = try Self.evaluation([[1, 1, 1], [0]]).jAndFInterval(resamples: 2000)
        XCTAssertEqual(clustered.estimate, 0.75)
        XCTAssertEqual(clustered.lower, 0); XCTAssertEqual(clustered.upper, 1)
        // Equal sequences leave nothing to resample; empty sequences are not units.
        let flat = try Self.evaluation(Array(repeating: [0.8, 0.8], count: 10) + [[]]).jAndFInterval()
        XCTAssertEqual(flat.lower, 0.8, accuracy: 1e-12); XCTAssertEqual(flat.upper, 0.8, accuracy: 1e-12)
        XCTAssertEqual(flat.standardError, 0, accuracy: 1e-12); XCTAssertEqual(flat.sequences, 10)
        // 30 sequences of varied values: the interval holds the estimate and the standard error is near the
        // textbook one (sample standard deviation / √n) for equal-sized sequences.
        var rng = SplitMix64(seed: 9)
        let values = (0..<30).map { _ in Double(rng.next() % 1000) / 1000 }
        let wide = try Self.evaluation(values.map { [$0] }).jAndFInterval(resamples: 4000)
        let mean = values.reduce(0, +) / 30
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 29).squareRoot()
        XCTAssertEqual(wide.estimate, mean, accuracy: 1e-12)
        XCTAssertTrue(wide.lower < mean && mean < wide.upper, "\(wide)")
        XCTAssertEqual(wide.standardError, sd / 30.squareRoot(), accuracy: 0.1 * sd / 30.squareRoot())
        XCTAssertEqual(wide.upper - wide.lower, 2 * 1.96 * wide.standardError, accuracy: 0.2 * wide.standardError)

        // Paired: every object 0.1 better than the baseline gives exactly 0.1, whatever the spread between videos.
        let better = try Self.evaluation(values.map { [$0, 1 - $0] }, offset: 0.1)
        let base = try Self.evaluation(values.map { [$0, 1 - $0] })
        let d = try better.jAndFDifference(from: base)
        XCTAssertEqual(d.estimate, 0.1, accuracy: 1e-12)
        XCTAssertEqual(d.lower, 0.1, accuracy: 1e-12); XCTAssertEqual(d.upper, 0.1, accuracy: 1e-12)
        XCTAssertThrowsError(try better.jAndFDifference(from: Self.evaluation(values.map { [$0] }))) { e in
            guard case let BootstrapError.unmatchedObjects(here, there)? = e as? BootstrapError else { return XCTFail("\(e)") }
            XCTAssertEqual(here.count, 30); XCTAssertEqual(here.first, "s0_2"); XCTAssertEqual(there, [])
        }
        XCTAssertThrowsError(try coin.jAndFInterval(level: 1)) { e in XCTAssertTrue("\(e)".contains("level"), "\(e)") }
        XCTAssertThrowsError(try coin.jAndFInterval(resamples: 0)) { e in XCTAssertTrue("\(e)".contains("resamples"), "\(e)") }
    }
}
