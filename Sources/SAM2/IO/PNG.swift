import Foundation
import CPNG

/// PNG decoding and encoding through libpng (all libpng calls, and its setjmp, live in Sources/CPNG/shim.h).
public enum PNG {
    /// True when `data` starts with the 8-byte PNG signature.
    public static func hasSignature(_ data: Data) -> Bool {
        data.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

    /// Decodes PNG bytes. Palette images come back `.indexed` (indices and palette, tRNS alphas kept); gray, gray+alpha,
    /// RGB and RGBA come back `.pixels` with the file's channel count. Gray below 8 bits is scaled to 0…255; 16-bit
    /// samples keep their high byte (as PIL does for 16-bit RGB/RGBA). `path` is only used in error messages.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> DecodedImage {
        var d = sam2_png_decoded()
        let status = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return -2 }
            return sam2_png_decode(base, raw.count, &d)
        }
        if status == -2 { throw ImageIOError.corrupt(path: path, format: "PNG", message: "empty data") }
        guard status == 0 else {
            let message = withUnsafeBytes(of: &d.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            throw ImageIOError.corrupt(path: path, format: "PNG", message: message)
        }
        defer { sam2_png_free_decoded(&d) }
        let (w, h, c) = (Int(d.width), Int(d.height), Int(d.channels))
        guard let src = d.pixels else { throw ImageIOError.corrupt(path: path, format: "PNG", message: "no pixel data") }
        let samples = [UInt8](UnsafeBufferPointer(start: src, count: w * h * c))
        if d.color_type == PNG_COLOR_TYPE_PALETTE {
            let palette = withUnsafeBytes(of: &d.palette) { [UInt8]($0.prefix(3 * Int(d.num_palette))) }
            let alpha = withUnsafeBytes(of: &d.trans) { [UInt8]($0.prefix(Int(d.num_trans))) }
            return .indexed(try IndexMask(width: w, height: h, indices: samples, palette: palette, paletteAlpha: alpha))
        }
        return .pixels(try Image8(width: w, height: h, channels: c, pixels: samples))
    }

    /// Encodes an 8-bit image as PNG (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA channels).
    public static func encode(_ image: Image8, path: String = "<memory>") throws -> Data {
        let colorType: Int32
        switch image.channels {
        case 1: colorType = PNG_COLOR_TYPE_GRAY
        case 2: colorType = PNG_COLOR_TYPE_GRAY_ALPHA
        case 3: colorType = PNG_COLOR_TYPE_RGB
        default: colorType = PNG_COLOR_TYPE_RGB_ALPHA
        }
        return try encode(pixels: image.pixels, width: image.width, height: image.height, colorType: colorType,
                          palette: [], alpha: [], path: path)
    }

    /// Encodes an index mask as an 8-bit palette PNG (index = object id). An empty palette is replaced by the DAVIS
    /// palette; a shorter one is written as is (indices beyond it are invalid PNG, so they are refused).
    public static func encode(_ mask: IndexMask, path: String = "<memory>") throws -> Data {
        let palette = mask.palette.isEmpty ? DavisPalette.rgb : mask.palette
        let entries = palette.count / 3
        if entries < 256, let bad = mask.indices.first(where: { Int($0) >= entries }) {
            throw ImageIOError.invalidArgument("\(path): index \(bad) is beyond the \(entries)-entry palette")
        }
        return try encode(pixels: mask.indices, width: mask.width, height: mask.height, colorType: PNG_COLOR_TYPE_PALETTE,
                          palette: palette, alpha: mask.paletteAlpha, path: path)
    }

    private static func encode(pixels: [UInt8], width: Int, height: Int, colorType: Int32,
                               palette: [UInt8], alpha: [UInt8], path: String) throws -> Data {
        guard width > 0, height > 0, width < 1 << 31, height < 1 << 31 else {
            throw ImageIOError.invalidArgument("\(path): PNG needs a non-empty image, got \(width)×\(height)")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { px in
            palette.withUnsafeBufferPointer { pal in
                alpha.withUnsafeBufferPointer { tr in
                    sam2_png_encode(px.baseAddress, UInt32(width), UInt32(height), colorType,
                                    pal.baseAddress, Int32(palette.count / 3), tr.baseAddress, Int32(alpha.count),
                                    &out, &size, &message)
                }
            }
        }
        guard status == 0, let bytes = out else {
            let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageIOError.unwritable(path: path, reason: "libpng: \(text)")
        }
        defer { free(bytes) }
        return Data(bytes: bytes, count: size)
    }
}
