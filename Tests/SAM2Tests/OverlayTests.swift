import Foundation
import XCTest
import SAM2

final class OverlayTests: XCTestCase {
    func testMaskBlendOutlineAndPrompts() throws {
        let frame = Image8(width: 40, height: 30, channels: 3, repeating: 100)
        var m = IndexMask(width: 40, height: 30)
        for y in 5...15 { for x in 5...15 { m[y, x] = 1 } }     // DAVIS colour 1 = (128, 0, 0)
        for y in 5...15 { for x in 16...20 { m[y, x] = 2 } }    // colour 2 = (0, 128, 0), touching object 1
        let out = Overlay.render(frame: frame, mask: m,
                                 clicks: [Click(x: 32, y: 24, positive: true), Click(x: 10, y: 25, positive: false)],
                                 boxes: [BoxPrompt(x0: 2, y0: 2, x1: 25, y1: 18)])
        func px(_ x: Int, _ y: Int) -> [UInt8] { Array(out.pixels[(y * 40 + x) * 3..<(y * 40 + x) * 3 + 3]) }
        XCTAssertEqual(px(10, 10), [114, 50, 50], "interior: round(0.5·100 + 0.5·128), 0.5·100")
        XCTAssertEqual(px(5, 10), [128, 0, 0], "outline at the mask edge is opaque")
        XCTAssertEqual(px(15, 10), [128, 0, 0], "outline where object 1 meets object 2")
        XCTAssertEqual(px(16, 10), [0, 128, 0], "object 2's side of the shared edge")
        XCTAssertEqual(px(18, 10), [50, 114, 50])
        XCTAssertEqual(px(35, 5), [100, 100, 100], "background untouched")
        XCTAssertEqual(px(32, 24), [0, 255, 0], "positive click centre")
        XCTAssertEqual(px(37, 24), [0, 255, 0], "disc radius 5")
        XCTAssertEqual(px(38, 24), [255, 255, 255], "white rim")
        XCTAssertEqual(px(39, 24), [100, 100, 100], "outside the rim")
        XCTAssertEqual(px(10, 25), [255, 0, 0], "negative click centre")
        XCTAssertEqual(px(2, 10), [0, 255, 255], "box left edge")
        XCTAssertEqual(px(3, 10), [0, 255, 255], "box thickness 2")
        XCTAssertEqual(px(4, 4), [100, 100, 100], "inside the box, outside masks")
        XCTAssertEqual(px(25, 18), [0, 255, 255], "box bottom-right corner pixel")
        XCTAssertEqual(px(26, 18), [100, 100, 100])

        var style = Overlay.Style()
        style.marker = .star; style.outline = false
        let star = Overlay.render(frame: frame, mask: m, clicks: [Click(x: 30, y: 20, positive: true)], style: style)
        XCTAssertEqual(Array(star.pixels[(20 * 40 + 30) * 3..<(20 * 40 + 30) * 3 + 3]), [0, 255, 0])
        XCTAssertEqual(Array(star.pixels[(10 * 40 + 5) * 3..<(10 * 40 + 5) * 3 + 3]), [114, 50, 50], "no outline")
        XCTAssertEqual(Array(star.pixels[(25 * 40 + 35) * 3..<(25 * 40 + 35) * 3 + 3]), [100, 100, 100], "between star points")
        // PNG round trip of the overlay.
        XCTAssertEqual(try ImageIO.decode(PNG.encode(out)).rgb, out)
    }

    func testContactSheetGridAndLabels() throws {
        // Frame i is a solid gray of level 10·i.
        let sheet = try ContactSheet.make(frameCount: 25, every: 5, columns: 3, thumbnailWidth: 40, labels: true, gap: 2) { i in
            Image8(width: 80, height: 60, channels: 3, repeating: UInt8(10 * i))
        }
        // 5 thumbnails (frames 0, 5, …, 20) in 3 columns → 2 rows of 40×30.
        XCTAssertEqual(sheet.width, 3 * 40 + 4 * 2); XCTAssertEqual(sheet.height, 2 * 30 + 3 * 2)
        func px(_ x: Int, _ y: Int) -> [UInt8] { Array(sheet.pixels[(y * sheet.width + x) * 3..<(y * sheet.width + x) * 3 + 3]) }
        XCTAssertEqual(px(2 + 42 + 30, 2 + 20), [50, 50, 50], "frame 5 thumbnail (row 0, column 1)")
        XCTAssertEqual(px(2 + 42 + 30, 2 + 32 + 20), [200, 200, 200], "frame 20 thumbnail (row 1, column 1)")
        XCTAssertEqual(px(0, 0), [32, 32, 32], "gap")
        // Label "20" at scale 1 from (ox+1, oy+1): glyph '2' top row is all set, label box black.
        let ox = 2 + 42, oy = 2 + 32
        XCTAssertEqual(px(ox + 1, oy + 1), [255, 255, 255]); XCTAssertEqual(px(ox + 3, oy + 1), [255, 255, 255])
        XCTAssertEqual(px(ox, oy), [0, 0, 0])
        XCTAssertEqual(px(ox + 1, oy + 2), [0, 0, 0], "'2' row 1 is 0b001")
        XCTAssertEqual(px(ox + 3, oy + 2), [255, 255, 255])
    }

    func testOverlayOfSyntheticFrame() throws {
        var c = SyntheticVideoConfig()
        c.width = 96; c.height = 64; c.frames = 3; c.texture = .flat
        let g = try SyntheticVideoGenerator(config: c)
        let f = try g.frame(1)
        let out = Overlay.render(frame: f.image, mask: f.mask)
        // Every annotated pixel changed colour or is an outline in its palette colour.
        for p in 0..<(96 * 64) where f.mask.indices[p] != 0 {
            let col = DavisPalette.color(f.mask.indices[p])
            let o = Array(out.pixels[3 * p..<3 * p + 3]), i = Array(f.image.pixels[3 * p..<3 * p + 3])
            let expected = zip(i, [col.r, col.g, col.b]).map { UInt8(((Double($0) + Double($1)) / 2).rounded()) }
            XCTAssertTrue(o == expected || o == [col.r, col.g, col.b], "pixel \(p)")
        }
    }
}
