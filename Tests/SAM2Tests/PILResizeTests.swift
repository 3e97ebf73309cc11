import Foundation
import XCTest
import SAM2

/// `PILResize` against Pillow's `Image.resize` (default bicubic) outputs (Fixtures/tracker, made by
/// Scripts/fixtures/make_tracker_fixtures.py): down- and upscaling, noise, gradients, a photo. Exact (tolerance 0).
final class PILResizeTests: XCTestCase {
    func image(_ t: Tensor) throws -> Image8 {
        try Image8(width: t.shape[1], height: t.shape[0], channels: t.shape[2], pixels: t.data.map { UInt8($0) })
    }

    func testMatchesPillowBicubic() throws {
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDir.appendingPathComponent("tracker/pil_resize.json"))) as! [String: Any]
        let sources = meta["sources"] as! [String: [String: Any]]
        for c in meta["cases"] as! [[String: Any]] {
            let src = try image(try fixture("tracker/" + (sources[c["source"] as! String]!["file"] as! String)))
            let expected = try fixture("tracker/" + (c["file"] as! String))
            let out = PILResize.resize(src, width: c["width"] as! Int, height: c["height"] as! Int)
            XCTAssertEqual([out.height, out.width, out.channels], expected.shape, "\(c)")
            let diffs = zip(out.pixels, expected.data).filter { Float($0) != $1 }.count
            XCTAssertEqual(diffs, 0, "\(c): \(diffs) samples differ from Pillow")
        }
    }

    func testSameSizeIsIdentity() throws {
        let img = try Image8(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(PILResize.resize(img, width: 3, height: 2), img)
    }
}
