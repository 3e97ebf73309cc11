import Foundation
import XCTest
import SAM2

/// Image I/O against PIL: fixtures from Scripts/fixtures/make_images_fixtures.py (Fixtures/images/).
/// All decodes must be exact (tolerance 0) except JPEG encode→decode, which is lossy (PSNR bound stated there).
final class ImageIOTests: XCTestCase {
    private let imagesDir = fixturesDir.appendingPathComponent("images")
    private var tempDir: URL!

    override func setUpWithError() throws {
        tempDir = FileManager.default.temporaryDirectory.appendingPathComponent("sam2-imageio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        // Set SAM2_KEEP_TEST_OUTPUT=1 to keep the written files (e.g. to open the palette PNG with PIL).
        if ProcessInfo.processInfo.environment["SAM2_KEEP_TEST_OUTPUT"] == nil {
            try? FileManager.default.removeItem(at: tempDir)
        } else {
            print("ImageIOTests output kept in \(tempDir.path)")
        }
    }

    // MARK: - helpers

    private func path(_ name: String) -> String { imagesDir.appendingPathComponent(name).path }

    private func json(_ name: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: imagesDir.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    /// FNV-1a 64 over the bytes, as the fixture script computes it.
    private func fnv1a64(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xCBF29CE484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001B3 }
        return String(format: "%016llx", h)
    }

    /// Expected uint8 array from a gen_*.npy fixture.
    private func npyBytes(_ name: String) throws -> (shape: [Int], bytes: [UInt8]) {
        let t = try Npy.read(path(name))
        return (t.shape, t.data.map { UInt8($0) })
    }

    /// Checks a decode against the fixture summary (size, hash of all samples, row sums, sampled pixels) and, if the
    /// hash differs, reports the largest difference seen in the sampled pixels.
    private func check(_ w: Int, _ h: Int, _ c: Int, _ samples: [UInt8], against e: [String: Any], _ name: String) {
        XCTAssertEqual(w, e["width"] as? Int, "\(name) width")
        XCTAssertEqual(h, e["height"] as? Int, "\(name) height")
        XCTAssertEqual(c, e["channels"] as? Int, "\(name) channels")
        guard w == e["width"] as? Int, h == e["height"] as? Int, c == e["channels"] as? Int else { return }
        let rowSums = (0..<h).map { y in samples[(y * w * c)..<((y + 1) * w * c)].reduce(0) { $0 + Int($1) } }
        XCTAssertEqual(rowSums, e["rowSums"] as? [Int], "\(name) per-row sums")
        var worst = 0
        for s in e["samples"] as? [[Int]] ?? [] {
            for k in 0..<c { worst = max(worst, abs(Int(samples[(s[0] * w + s[1]) * c + k]) - s[2 + k])) }
        }
        XCTAssertEqual(worst, 0, "\(name): max difference at the sampled pixels")
        XCTAssertEqual(fnv1a64(samples), e["fnv1a64"] as? String, "\(name): hash of all samples differs from PIL's decode")
    }

    private func write(_ data: Data, _ name: String) throws -> String {
        let url = tempDir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    /// Asserts `body` throws an ImageIOError (never traps), that its text names `path`, and returns it.
    @discardableResult
    private func assertImageError(_ path: String, _ what: String, _ body: () throws -> Any,
                                  file: StaticString = #filePath, line: UInt = #line) -> ImageIOError? {
        do {
            _ = try body()
            XCTFail("\(what): expected an error", file: file, line: line)
        } catch let error as ImageIOError {
            XCTAssertTrue(error.description.contains(path), "\(what): message should name the file: \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("\(what): expected ImageIOError, got \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - real files vs PIL

    func testRealJPEGsDecodeExactlyLikePIL() throws {
        let expected = try json("expected.json")
        for name in ["bedroom_00000.jpg", "bedroom_00012.jpg", "truck.jpg", "groceries.jpg"] {
            guard case let .pixels(img) = try ImageIO.read(path(name)) else { XCTFail("\(name): expected pixels"); continue }
            check(img.width, img.height, img.channels, img.pixels, against: try XCTUnwrap(expected[name]), name)
            XCTAssertEqual(try ImageIO.readRGB(path(name)), img)
        }
    }

    func testDavisPaletteMasksMatchPIL() throws {
        let expected = try json("expected.json")
        for name in ["blackswan_00000.png", "blackswan_00025.png", "blackswan_00049.png"] {
            let e = try XCTUnwrap(expected[name])
            let mask = try ImageIO.readIndexMask(path(name))
            check(mask.width, mask.height, 1, mask.indices, against: e, name)
            XCTAssertEqual(mask.palette.map(Int.init), e["palette"] as? [Int], "\(name) palette")
            XCTAssertEqual(mask.palette, DavisPalette.rgb, "\(name): DAVIS files use the VOC colour map")
            XCTAssertEqual(mask.paletteAlpha, [])
            XCTAssertEqual(mask.objectIDs, e["objectIDs"] as? [Int], "\(name) object ids")
            var histogram = [Int](repeating: 0, count: 256)
            for v in mask.indices { histogram[Int(v)] += 1 }
            XCTAssertEqual(histogram, e["histogram"] as? [Int], "\(name) index histogram")
            XCTAssertEqual(fnv1a64(mask.rgb.pixels), e["rgbFnv1a64"] as? String, "\(name): palette → RGB like PIL convert")
            XCTAssertEqual(try ImageIO.read(path(name)), .indexed(mask))
            // Binary mask of object 1 has as many ones as the histogram says.
            XCTAssertEqual(mask.binaryMask(id: 1).data.reduce(0, +), Float(histogram[1]))
        }
    }

    func testDavisPaletteFormula() {
        let known: [UInt8: (UInt8, UInt8, UInt8)] = [0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0),
            4: (0, 0, 128), 7: (128, 128, 128), 8: (64, 0, 0), 9: (192, 0, 0), 20: (0, 64, 128), 255: (224, 224, 192)]
        for (i, c) in known {
            let got = DavisPalette.color(i)
            XCTAssertTrue(got == c, "index \(i): \(got) vs \(c)")
            XCTAssertEqual(Array(DavisPalette.rgb[(3 * Int(i))..<(3 * Int(i) + 3)]), [c.0, c.1, c.2])
        }
        XCTAssertEqual(DavisPalette.rgb.count, 768)
    }

    // MARK: - generated files of every colour type / bit depth

    func testGeneratedPNGsEveryColorTypeAndBitDepth() throws {
        let gen = try json("generated.json")
        for (name, info) in gen.sorted(by: { $0.key < $1.key }) where name.hasSuffix(".png") {
            let expected = try npyBytes(name.replacingOccurrences(of: ".png", with: ".npy"))
            let decoded = try ImageIO.read(path(name))
            switch decoded {
            case let .pixels(img):
                XCTAssertEqual(info["kind"] as? String, "pixels", name)
                XCTAssertEqual(img.channels, info["channels"] as? Int, "\(name) channels")
                XCTAssertEqual([img.height, img.width] + (img.channels > 1 ? [img.channels] : []), expected.shape, "\(name) shape")
                XCTAssertEqual(img.pixels, expected.bytes, "\(name) samples")
            case let .indexed(mask):
                XCTAssertEqual(info["kind"] as? String, "indexed", name)
                XCTAssertEqual([mask.height, mask.width], expected.shape, "\(name) shape")
                XCTAssertEqual(mask.indices, expected.bytes, "\(name) indices")
                XCTAssertEqual(mask.palette.map(Int.init), info["palette"] as? [Int], "\(name) palette")
                XCTAssertEqual(mask.paletteAlpha.map(Int.init), info["trns"] as? [Int] ?? [], "\(name) tRNS")
                XCTAssertEqual(fnv1a64(decoded.rgb.pixels), info["rgbFnv1a64"] as? String, "\(name): RGB like PIL convert")
            }
        }
    }

    func testGeneratedJPEGsGrayCMYKSubsamplingProgressive() throws {
        for name in ["gen_444.jpg", "gen_422.jpg", "gen_420.jpg", "gen_progressive.jpg", "gen_gray.jpg", "gen_cmyk.jpg"] {
            let expected = try npyBytes(name.replacingOccurrences(of: ".jpg", with: ".npy"))
            let img = try ImageIO.readRGB(path(name))
            XCTAssertEqual([img.height, img.width, img.channels], expected.shape, name)
            let worst = zip(img.pixels, expected.bytes).map { abs(Int($0) - Int($1)) }.max() ?? -1
            XCTAssertEqual(worst, 0, "\(name): max difference to PIL")
        }
    }

    // MARK: - writing

    func testPNGWriteReadRoundTripAllChannelCounts() throws {
        for c in 1...4 {
            let t = randomTensor([c, 17, 29], seed: UInt64(c), range: 0...1)
            let img = try Image8(tensor: t)
            let file = tempDir.appendingPathComponent("rt\(c).png").path
            try ImageIO.write(img, to: file)
            XCTAssertEqual(try ImageIO.read(file), .pixels(img), "\(c)-channel PNG round trip")
        }
    }

    func testPalettePNGWriteReadKeepsIndicesPaletteAndAlpha() throws {
        var mask = IndexMask(width: 41, height: 19)
        for y in 0..<19 { for x in 0..<41 { mask[y, x] = UInt8((x / 5 + y / 4) % 7) } }
        mask[0, 0] = 255
        // Kept on disk with SAM2_KEEP_TEST_OUTPUT=1; checked once with PIL (np.array(Image.open(f)), getpalette()).
        let file = tempDir.appendingPathComponent("davis_mask.png").path
        try ImageIO.write(mask, to: file)
        let back = try ImageIO.readIndexMask(file)
        XCTAssertEqual(back.indices, mask.indices)
        XCTAssertEqual(back.palette, DavisPalette.rgb)
        XCTAssertEqual(back.objectIDs, [1, 2, 3, 4, 5, 6, 255])

        // tRNS and a short palette survive; an empty palette is written as DAVIS; indices beyond the palette are refused.
        let short = try IndexMask(width: 3, height: 1, indices: [0, 1, 2], palette: [1, 2, 3, 4, 5, 6, 7, 8, 9], paletteAlpha: [0, 200])
        XCTAssertEqual(try PNG.decode(PNG.encode(short)), .indexed(short))
        let bare = try IndexMask(width: 2, height: 1, indices: [0, 3], palette: [])
        guard case let .indexed(m) = try PNG.decode(PNG.encode(bare)) else { return XCTFail("expected indexed") }
        XCTAssertEqual(m.palette, DavisPalette.rgb)
        let bad = try IndexMask(width: 2, height: 1, indices: [0, 3], palette: [0, 0, 0, 9, 9, 9])
        XCTAssertThrowsError(try PNG.encode(bad))

        // A DAVIS file read and re-written gives the same indices and palette.
        let real = try ImageIO.readIndexMask(path("blackswan_00025.png"))
        let copy = tempDir.appendingPathComponent("blackswan_copy.png").path
        try ImageIO.write(real, to: copy)
        XCTAssertEqual(try ImageIO.readIndexMask(copy), real)
    }

    func testJPEGWriteThenReadIsClose() throws {
        // Lossy: require PSNR > 35 dB at quality 95 on a smooth gradient, and exact size; also gray JPEG.
        var img = Image8(width: 64, height: 48, channels: 3)
        for y in 0..<48 { for x in 0..<64 { img[y, x, 0] = UInt8(x * 4); img[y, x, 1] = UInt8(y * 5); img[y, x, 2] = UInt8((x + y) * 2) } }
        for source in [img, try Image8(width: 64, height: 48, channels: 1, pixels: img.pixels.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))] {
            let file = tempDir.appendingPathComponent("w\(source.channels).jpg").path
            try ImageIO.write(source, to: file, jpegQuality: 95)
            let back = try ImageIO.readRGB(file)
            let ref = source.rgb
            XCTAssertEqual([back.width, back.height], [64, 48])
            var sse = 0.0
            for (a, b) in zip(back.pixels, ref.pixels) { let d = Double(Int(a) - Int(b)); sse += d * d }
            let mse = sse / Double(ref.pixels.count)
            let psnr = 10 * log10(255 * 255 / max(mse, 1e-9))
            XCTAssertGreaterThan(psnr, 35, "\(source.channels)-channel JPEG round trip PSNR")
        }
        XCTAssertThrowsError(try JPEG.encode(img, quality: 0))
        XCTAssertThrowsError(try ImageIO.write(img, to: tempDir.appendingPathComponent("x.bmp").path))
    }

    // MARK: - tensors

    func testTensorConversions() throws {
        let img = try ImageIO.readRGB(path("bedroom_00000.jpg"))
        let unit = img.toTensor()
        let bytes = img.toTensor(scale: .byte)
        XCTAssertEqual(unit.shape, [3, 540, 960])
        for (y, x) in [(0, 0), (539, 959), (100, 700), (333, 12)] {
            for c in 0..<3 {
                XCTAssertEqual(bytes[c, y, x], Float(img[y, x, c]))
                XCTAssertEqual(unit[c, y, x], Float(img[y, x, c]) / 255, accuracy: 1e-7)
            }
        }
        XCTAssertEqual(try Image8(tensor: unit), img, "unit tensor → image is exact")
        XCTAssertEqual(try Image8(tensor: bytes, scale: .byte), img)

        // Rounding to nearest, clamping, NaN → 0; [H,W] is gray.
        let t = Tensor(shape: [1, 1, 6], data: [-0.3, 0.4, 0.6, 254.4, 300, .nan])
        XCTAssertEqual(try Image8(tensor: t, scale: .byte).pixels, [0, 0, 1, 254, 255, 0])
        XCTAssertEqual(try Image8(tensor: Tensor(shape: [2, 2], data: [0, 0.5, 1, 2])).pixels, [0, 128, 255, 255])
        XCTAssertThrowsError(try Image8(tensor: Tensor.zeros([5, 2, 2])))
        XCTAssertThrowsError(try Image8(width: 2, height: 2, channels: 3, pixels: [1, 2, 3]))

        let mask = try ImageIO.readIndexMask(path("blackswan_00000.png"))
        let mt = mask.toTensor()
        XCTAssertEqual(mt.shape, [480, 854])
        XCTAssertEqual(try IndexMask(tensor: mt), mask)
        XCTAssertEqual(try IndexMask(binaryMasks: [mask.binaryMask(id: 1)], ids: [1]), mask)
        XCTAssertThrowsError(try IndexMask(tensor: Tensor(shape: [1, 2], data: [0, 0.5])))
        XCTAssertThrowsError(try IndexMask(tensor: Tensor(shape: [1, 2], data: [0, 256])))
    }

    // MARK: - bad input never traps

    func testMissingEmptyRandomAndWrongFormatFiles() throws {
        let missing = tempDir.appendingPathComponent("nope.png").path
        if case .unreadable? = assertImageError(missing, "missing file", { try ImageIO.read(missing) }) {} else { XCTFail("missing → unreadable") }
        assertImageError(tempDir.path, "directory", { try ImageIO.read(self.tempDir.path) })

        let empty = try write(Data(), "empty.jpg")
        if case .unknownFormat? = assertImageError(empty, "empty", { try ImageIO.read(empty) }) {} else { XCTFail("empty → unknownFormat") }

        var state: UInt64 = 7
        let random = Data((0..<4096).map { _ -> UInt8 in state = state &* 6364136223846793005 &+ 1; return UInt8(state >> 56) })
        let rnd = try write(random, "random.png")
        if case .unknownFormat? = assertImageError(rnd, "random bytes", { try ImageIO.read(rnd) }) {} else { XCTFail("random → unknownFormat") }

        let text = try write(Data("hello, not an image".utf8), "text.png")
        assertImageError(text, "text with .png name", { try ImageIO.read(text) })

        // Magic bytes followed by garbage: the decoders' own messages come back as .corrupt.
        let fakePNG = try write(Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + random, "fake.png")
        if case .corrupt? = assertImageError(fakePNG, "PNG signature + junk", { try ImageIO.read(fakePNG) }) {} else { XCTFail("→ corrupt") }
        let fakeJPEG = try write(Data([0xFF, 0xD8, 0xFF]) + random, "fake.jpg")
        if case .corrupt? = assertImageError(fakeJPEG, "JPEG SOI + junk", { try ImageIO.read(fakeJPEG) }) {} else { XCTFail("→ corrupt") }

        // The extension does not matter: a JPEG named .png reads as JPEG; an RGB PNG is not an index mask.
        let renamed = try write(Data(contentsOf: URL(fileURLWithPath: path("gen_444.jpg"))), "really_a_jpeg.png")
        XCTAssertEqual(try ImageIO.readRGB(renamed), try ImageIO.readRGB(path("gen_444.jpg")))
        if case .unsupported? = assertImageError(renamed, "JPEG as mask", { try ImageIO.readIndexMask(renamed) }) {} else { XCTFail("→ unsupported") }
        let rgbPNG = path("gen_rgb8.png")
        assertImageError(rgbPNG, "RGB PNG as mask", { try ImageIO.readIndexMask(rgbPNG) })
    }

    func testTruncatedFilesThrow() throws {
        for name in ["blackswan_00000.png", "gen_rgba16.png", "gen_palette4.png", "bedroom_00000.jpg", "gen_progressive.jpg", "gen_cmyk.jpg"] {
            let full = try Data(contentsOf: URL(fileURLWithPath: path(name)))
            // Every cut point up to the last 2 bytes for small files, ~60 cuts for large ones. A PNG cut inside
            // IEND still has all pixels and libpng accepts it, as PIL does, so PNG cuts stop before IEND (12 bytes).
            let last = full.count - (name.hasSuffix(".png") ? 12 : 2)
            let step = max(1, last / 60)
            for n in stride(from: 0, to: last, by: step) {
                let file = try write(full.prefix(n), "cut_\(n)_\(name)")
                assertImageError(file, "\(name) cut to \(n) bytes", { try ImageIO.read(file) })
            }
        }
    }

    func testWrongCRCAndFlippedBytesNeverTrap() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: path("blackswan_00000.png")))
        // IHDR CRC is bytes 29...32; IDAT's CRC sits right before the 12-byte IEND chunk.
        for (what, offset) in [("IHDR CRC", 30), ("IDAT CRC", full.count - 14)] {
            var bad = full
            bad[offset] ^= 0xFF
            let file = try write(bad, "crc_\(offset).png")
            let error = assertImageError(file, what, { try ImageIO.read(file) })
            XCTAssertTrue(error?.description.contains("CRC") ?? false, "\(what): \(String(describing: error))")
        }
        // Random single-byte corruptions must never trap. JPEG may decode garbage; PNG is CRC-protected, but a bad
        // CRC in an ancillary chunk (tRNS here) is only a warning (libpng drops the chunk, as PIL ignores it).
        var state: UInt64 = 99
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) % n }
        for name in ["gen_palette8_trns.png", "gen_420.jpg", "gen_progressive.jpg"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
            var failures = 0
            for k in 0..<40 {
                var bad = data
                bad[8 + next(data.count - 20)] ^= UInt8(1 + next(255))
                if (try? ImageIO.decode(bad, path: "\(name)#\(k)")) == nil { failures += 1 }
            }
            if name.hasSuffix(".png") { XCTAssertGreaterThanOrEqual(failures, 35, "\(name): flipped bytes rejected") }
        }
    }

    func testHugeDimensionsAreRefusedBeforeAllocating() throws {
        // PNG: IHDR claiming 60000×60000 (3.6e9 pixels, under libpng's per-side limit) with a valid CRC.
        var png = try Data(contentsOf: URL(fileURLWithPath: path("gen_gray8.png")))
        let ihdr: [UInt8] = [0x49, 0x48, 0x44, 0x52, 0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60, 8, 0, 0, 0, 0]
        png.replaceSubrange(12..<29, with: ihdr)
        let crc = crc32(ihdr)
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        let bigPNG = try write(png, "huge.png")
        let e1 = assertImageError(bigPNG, "huge PNG", { try ImageIO.read(bigPNG) })
        XCTAssertTrue(e1?.description.contains("2^28") ?? false, String(describing: e1))

        // JPEG: SOF0 patched to 65000×65000.
        var jpg = try Data(contentsOf: URL(fileURLWithPath: path("gen_444.jpg")))
        let bytes = [UInt8](jpg)
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        jpg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xFD, 0xE8, 0xFD, 0xE8])
        let bigJPG = try write(jpg, "huge.jpg")
        if case .unsupported? = assertImageError(bigJPG, "huge JPEG", { try ImageIO.read(bigJPG) }) {} else { XCTFail("→ unsupported") }
    }

    /// CRC-32 (PNG / zlib polynomial), bitwise: only for building test chunks.
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }
}
