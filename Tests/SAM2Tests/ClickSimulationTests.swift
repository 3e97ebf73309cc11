import Foundation
import XCTest
import SAM2

final class ClickSimulationTests: XCTestCase {
    func mask(_ w: Int, _ h: Int, _ inside: (Int, Int) -> Bool) -> BinaryMask {
        var m = BinaryMask(width: w, height: h)
        for y in 0..<h { for x in 0..<w { m[y, x] = inside(x, y) } }
        return m
    }

    /// Naive O(N²) squared EDT: nearest false pixel, with the padding ring counted as false when asked.
    func bruteForce(_ m: BinaryMask, pad: Bool) -> [Int] {
        var zeros: [(Int, Int)] = []
        for y in 0..<m.height { for x in 0..<m.width where !m[y, x] { zeros.append((x, y)) } }
        if pad {
            for x in -1...m.width { zeros.append((x, -1)); zeros.append((x, m.height)) }
            for y in 0..<m.height { zeros.append((-1, y)); zeros.append((m.width, y)) }
        }
        return (0..<(m.width * m.height)).map { i in
            let x = i % m.width, y = i / m.width
            if !m.bits[i] { return 0 }
            return zeros.map { ($0.0 - x) * ($0.0 - x) + ($0.1 - y) * ($0.1 - y) }.min() ?? Int.max
        }
    }

    func testDistanceTransformMatchesBruteForce() {
        var rng = SplitMix64(seed: 2024)
        for trial in 0..<24 {
            let w = rng.int(1...37), h = rng.int(1...29)
            let density = [0.5, 0.85, 0.97, 1.0][trial % 4]
            // Blobby masks: random discs plus salt noise, so distances reach well past 1.
            var m = mask(w, h) { _, _ in rng.nextUnit() < density * 0.2 }
            for _ in 0..<3 {
                let cx = rng.int(0...(w - 1)), cy = rng.int(0...(h - 1)), r = rng.int(0...12)
                for y in 0..<h { for x in 0..<w where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r { m[y, x] = rng.nextUnit() < density } }
            }
            for pad in [true, false] {
                XCTAssertEqual(DistanceTransform.squaredEuclidean(m, padBorder: pad), bruteForce(m, pad: pad),
                               "trial \(trial) \(w)×\(h) pad \(pad)")
            }
        }
        // Exactness: squared distances are integers, Euclidean = sqrt.
        let m = mask(9, 9) { x, y in x > 0 || y > 0 }  // only (0, 0) is false
        XCTAssertEqual(DistanceTransform.euclidean(m, padBorder: false)[8 * 9 + 8], Float(sqrt(128.0)))
    }

    func testFirstClickOnSimpleShapes() {
        // Disc: unique farthest point at its centre.
        let disc = mask(40, 30) { x, y in (x - 20) * (x - 20) + (y - 15) * (y - 15) <= 49 }
        XCTAssertEqual(ClickSimulation.firstClick(disc), Click(x: 20, y: 15, positive: true))
        // Odd square x 10…18, y 5…13: centre (14, 9), distance 5.
        let square = mask(30, 20) { x, y in (10...18).contains(x) && (5...13).contains(y) }
        XCTAssertEqual(ClickSimulation.firstClick(square), Click(x: 14, y: 9, positive: true))
        XCTAssertEqual(ClickSimulation.center(of: square)?.squaredDistance, 25)
        // A full 11×7 image: only the padding ring bounds it. Max distance 4 on row 3 for x 3…7; the tie goes
        // to the first pixel in row-major order.
        let full = mask(11, 7) { _, _ in true }
        XCTAssertEqual(ClickSimulation.firstClick(full), Click(x: 3, y: 3, positive: true))
        // A wide rectangle x 10…30, y 5…15: distance 6 on row 10 for x 15…25 → (15, 10).
        let wide = mask(50, 30) { x, y in (10...30).contains(x) && (5...15).contains(y) }
        XCTAssertEqual(ClickSimulation.firstClick(wide), Click(x: 15, y: 10, positive: true))
        XCTAssertNil(ClickSimulation.firstClick(BinaryMask(width: 5, height: 5)))
    }

    func testCorrectiveClickSignAndLocation() {
        let gt = mask(60, 40) { x, y in (10..<40).contains(x) && (5..<35).contains(y) }
        // Missing 11×11 block at x 25…35, y 20…30 (inside gt), plus a small 3×3 false positive.
        var pred = gt
        for y in 20...30 { for x in 25...35 { pred[y, x] = false } }
        for y in 1...3 { for x in 50...52 { pred[y, x] = true } }
        XCTAssertEqual(ClickSimulation.nextClick(gt: gt, prediction: pred), Click(x: 30, y: 25, positive: true))
        // A big false-positive slab to the right wins over the missing block: negative click at its centre.
        for y in 5..<35 { for x in 44..<60 { pred[y, x] = true } }  // x 44…59 touches the border (padded)
        XCTAssertEqual(ClickSimulation.nextClick(gt: gt, prediction: pred), Click(x: 51, y: 12, positive: false))
        // Equal depth → negative (the official rule uses a strict FN > FP comparison).
        var tie = gt
        for y in 20...22 { for x in 20...22 { tie[y, x] = false } }
        for y in 1...3 { for x in 50...52 { tie[y, x] = true } }
        XCTAssertEqual(ClickSimulation.nextClick(gt: gt, prediction: tie), Click(x: 51, y: 2, positive: false))
        XCTAssertNil(ClickSimulation.nextClick(gt: gt, prediction: gt))
    }

    func testLargestAreaRuleDiffersFromFarthestPoint() {
        let gt = mask(60, 40) { _, y in y < 30 }
        var pred = gt
        for x in 0..<60 { pred[2, x] = false }                           // thin FN strip, 60 px, depth 1
        for y in 10...14 { for x in 20...24 { pred[y, x] = false } }     // compact FN square, 25 px, depth 3
        XCTAssertEqual(ClickSimulation.nextClick(gt: gt, prediction: pred, rule: .farthestPoint), Click(x: 22, y: 12, positive: true))
        XCTAssertEqual(ClickSimulation.nextClick(gt: gt, prediction: pred, rule: .largestArea), Click(x: 0, y: 2, positive: true))
    }

    func testKClicksWithPredictor() {
        let gt = mask(64, 48) { x, y in (8..<56).contains(x) && (8..<40).contains(y) }
        var calls = 0
        // A toy model: a radius-6 disc around each positive click, cleared around negative ones.
        let clicks = ClickSimulation.clicks(gt: gt, count: 5) { cs -> BinaryMask in
            calls += 1
            return self.mask(64, 48) { x, y in
                cs.contains { $0.positive && ($0.x - x) * ($0.x - x) + ($0.y - y) * ($0.y - y) <= 36 } &&
                    !cs.contains { !$0.positive && ($0.x - x) * ($0.x - x) + ($0.y - y) * ($0.y - y) <= 4 }
            }
        }
        XCTAssertEqual(clicks.count, 5); XCTAssertEqual(calls, 4)
        XCTAssertEqual(clicks[0], ClickSimulation.firstClick(gt))
        for c in clicks { XCTAssertTrue(c.positive && gt[c.y, c.x], "\(c)") }
        XCTAssertEqual(Set(clicks.map { [$0.x, $0.y] }).count, 5, "clicks are distinct")
        XCTAssertEqual(ClickSimulation.clicks(gt: gt, count: 1) { _ in XCTFail("no prediction needed"); return gt }.count, 1)
        // A perfect model stops the sequence early.
        XCTAssertEqual(ClickSimulation.clicks(gt: gt, count: 5) { _ in gt }.count, 1)
    }

    func testBoxFromMaskAndJitterBounds() {
        let gt = mask(200, 150) { x, y in (50...149).contains(x) && (40...69).contains(y) }   // 99 × 29 box sides
        XCTAssertEqual(ClickSimulation.box(gt), BoxPrompt(x0: 50, y0: 40, x1: 149, y1: 69))
        var rng = SplitMix64(seed: 1)
        var dx: [Double] = []
        for _ in 0..<4000 {
            let b = ClickSimulation.box(gt, noise: .gaussian(), rng: &rng)!
            for (v, t) in zip([b.x0, b.y0, b.x1, b.y1], [50.0, 40, 149, 69]) { XCTAssertLessThanOrEqual(abs(v - t), 20) }
            dx.append(b.x0 - 50)
            let u = ClickSimulation.box(gt, noise: .uniform(), rng: &rng)!
            XCTAssertLessThanOrEqual(abs(u.x0 - 50), 9.9 + 1e-9); XCTAssertLessThanOrEqual(abs(u.y0 - 40), 2.9 + 1e-9)
        }
        // x sides are 99 px → std 9.9 (clipping at 20 = 2σ trims it to ≈ 9.3).
        let std = (dx.map { $0 * $0 }.reduce(0, +) / Double(dx.count)).squareRoot()
        XCTAssertEqual(std, 9.3, accuracy: 0.5)
        // Corner box stays inside the image; the same seed gives the same box.
        let corner = mask(50, 50) { x, y in x < 10 && y < 10 }
        var r1 = SplitMix64(seed: 7), r2 = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let b = ClickSimulation.box(corner, noise: .gaussian(fraction: 1, bound: 20), rng: &r1)!
            XCTAssertTrue(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= 49 && b.y1 <= 49)
            XCTAssertEqual(b, ClickSimulation.box(corner, noise: .gaussian(fraction: 1, bound: 20), rng: &r2))
        }
        XCTAssertEqual(ClickSimulation.maskPrompt(corner).data.reduce(0, +), 100)
    }
}
