import Foundation
import CTurboJPEG

/// JPEG decoding and encoding through TurboJPEG. Decoding uses libjpeg's defaults (ISLOW DCT, fancy upsampling),
/// as PIL does, so RGB output matches `np.array(Image.open(path).convert("RGB"))`.
public enum JPEG {
    /// True when `data` starts with the JPEG SOI marker and a following marker (FF D8 FF).
    public static func hasSignature(_ data: Data) -> Bool {
        data.prefix(3).elementsEqual([0xFF, 0xD8, 0xFF])
    }

    /// Decodes JPEG bytes to 3-channel RGB. Grayscale is replicated to RGB; CMYK/YCCK is converted with PIL's
    /// formula (R = (255−C)(255−K)/255, Adobe files read as inverted CMYK). Decoder warnings are tolerated as PIL
    /// does, except a premature end of data, which is an error. `path` is only used in error messages.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> Image8 {
        guard let handle = tjInitDecompress() else {
            throw ImageIOError.corrupt(path: path, format: "JPEG", message: "cannot initialise TurboJPEG")
        }
        defer { tjDestroy(handle) }
        func decoderMessage() -> String { String(cString: tjGetErrorStr2(handle)) }

        return try data.withUnsafeBytes { raw -> Image8 in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress, raw.count > 0 else {
                throw ImageIOError.corrupt(path: path, format: "JPEG", message: "empty data")
            }
            let size = UInt(raw.count)
            var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
            if tjDecompressHeader3(handle, base, size, &w, &h, &subsamp, &colorspace) != 0 {
                throw ImageIOError.corrupt(path: path, format: "JPEG", message: decoderMessage())
            }
            guard w > 0, h > 0 else {
                throw ImageIOError.corrupt(path: path, format: "JPEG", message: "image size \(w)×\(h)")
            }
            // Same bound as the PNG reader (2^28 pixels): a hostile header must not make us allocate gigabytes.
            guard Int(w) * Int(h) <= 1 << 28 else {
                throw ImageIOError.unsupported(path: path, reason: "JPEG of \(w)×\(h) pixels is larger than 2^28 pixels")
            }
            let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let channels = isCMYK ? 4 : 3
            let format = isCMYK ? TJPF_CMYK : TJPF_RGB
            let (width, height) = (Int(w), Int(h))
            var out = [UInt8](repeating: 0, count: width * height * channels)
            let status = out.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, base, size, dst.baseAddress, w, 0, h, Int32(format.rawValue), 0)
            }
            // libjpeg reads up to EOI, so a file without one made it run out of data; it then often fails on the
            // padding it inserts, so name the real cause (PIL refuses such files as "image file is truncated").
            if !hasEndOfImage(UnsafeRawBufferPointer(raw)) {
                let detail = status != 0 ? " (decoder: \(decoderMessage()))" : ""
                throw ImageIOError.corrupt(path: path, format: "JPEG", message: "truncated, no end-of-image marker\(detail)")
            }
            // Warnings (e.g. extraneous bytes before a marker) leave a complete image, and PIL accepts them.
            // TurboJPEG also reports WARNING for a fatal error that follows a warning, hence the text check.
            if status != 0 {
                let message = decoderMessage()
                if tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) || message.contains("Premature end") {
                    throw ImageIOError.corrupt(path: path, format: "JPEG", message: message)
                }
            }
            if !isCMYK { return try Image8(width: width, height: height, channels: 3, pixels: out) }
            return try Image8(width: width, height: height, channels: 3,
                              pixels: cmykToRGB(out, inverted: hasAdobeMarker(UnsafeRawBufferPointer(raw))))
        }
    }

    /// PIL's CMYK → RGB (Convert.c cmyk2rgb): R = nk − C·nk/255 with nk = 255 − K, rounded as its MULDIV255.
    private static func cmykToRGB(_ cmyk: [UInt8], inverted: Bool) -> [UInt8] {
        let n = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: n * 3)
        @inline(__always) func muldiv255(_ a: Int, _ b: Int) -> Int { let t = a * b + 128; return ((t >> 8) + t) >> 8 }
        for p in 0..<n {
            var v = (Int(cmyk[4 * p]), Int(cmyk[4 * p + 1]), Int(cmyk[4 * p + 2]), Int(cmyk[4 * p + 3]))
            if inverted { v = (255 - v.0, 255 - v.1, 255 - v.2, 255 - v.3) }
            let nk = 255 - v.3
            rgb[3 * p] = UInt8(clamping: nk - muldiv255(v.0, nk))
            rgb[3 * p + 1] = UInt8(clamping: nk - muldiv255(v.1, nk))
            rgb[3 * p + 2] = UInt8(clamping: nk - muldiv255(v.2, nk))
        }
        return rgb
    }

    /// Scans the marker segments before the first SOS for an APP14 "Adobe" segment (PIL then reads CMYK as inverted).
    private static func hasAdobeMarker(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 2
        while i + 4 <= bytes.count, bytes[i] == 0xFF {
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }  // fill byte
            if marker == 0xDA || marker == 0xD9 { return false }  // SOS / EOI: no more headers
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if marker == 0xEE, length >= 7, i + 9 <= bytes.count,
               bytes[(i + 4)..<(i + 9)].elementsEqual(Array("Adobe".utf8)) { return true }
            i += 2 + length
        }
        return false
    }

    /// Walks the marker segments and entropy-coded scans the way libjpeg does and reports whether an EOI marker
    /// (FF D9) is reached before the data ends.
    private static func hasEndOfImage(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 2
        while i + 1 < n {
            guard bytes[i] == 0xFF else { i += 1; continue }  // libjpeg skips stray bytes between segments
            let marker = bytes[i + 1]
            switch marker {
            case 0xD9: return true
            case 0xFF: i += 1  // fill byte
            case 0x00, 0x01, 0xD0...0xD8: i += 2  // no length field
            default:
                guard i + 4 <= n else { return false }
                let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                guard length >= 2 else { return false }
                i += 2 + length
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker other than a stuffed zero or a restart marker.
                    while i + 1 < n {
                        if bytes[i] == 0xFF {
                            let m = bytes[i + 1]
                            if m == 0x00 || (0xD0...0xD7).contains(m) { i += 2; continue }
                            if m == 0xFF { i += 1; continue }
                            break
                        }
                        i += 1
                    }
                }
            }
        }
        return false
    }

    /// Encodes a gray (1-channel) or RGB (3-channel) image as baseline JPEG (4:2:0 for RGB), `quality` 1…100.
    /// Alpha channels are dropped.
    public static func encode(_ image: Image8, quality: Int = 90, path: String = "<memory>") throws -> Data {
        guard image.width > 0, image.height > 0, (1...100).contains(quality) else {
            throw ImageIOError.invalidArgument("\(path): JPEG needs a non-empty image and quality 1…100, got \(image.width)×\(image.height), quality \(quality)")
        }
        let src = image.channels == 1 || image.channels == 3 ? image : image.channels == 2
            ? try Image8(width: image.width, height: image.height, channels: 1,
                         pixels: stride(from: 0, to: image.pixels.count, by: 2).map { image.pixels[$0] })
            : image.rgb
        guard let handle = tjInitCompress() else {
            throw ImageIOError.unwritable(path: path, reason: "cannot initialise TurboJPEG")
        }
        defer { tjDestroy(handle) }
        let gray = src.channels == 1
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = src.pixels.withUnsafeBufferPointer { px in
            tjCompress2(handle, px.baseAddress, Int32(src.width), 0, Int32(src.height),
                        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &buffer, &size,
                        Int32((gray ? TJSAMP_GRAY : TJSAMP_420).rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let bytes = buffer else {
            throw ImageIOError.unwritable(path: path, reason: "TurboJPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Data(bytes: bytes, count: Int(size))
    }
}
