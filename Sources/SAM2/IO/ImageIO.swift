import Foundation

/// Reading and writing image files; the format is detected from the magic bytes, never from the extension.
public enum ImageIO {
    /// Image container formats this module reads and writes.
    public enum Format: String, Sendable { case png, jpeg }

    /// Format of `data` by its signature, or nil if neither PNG nor JPEG.
    public static func detectFormat(_ data: Data) -> Format? {
        if PNG.hasSignature(data) { return .png }
        if JPEG.hasSignature(data) { return .jpeg }
        return nil
    }

    /// Decodes PNG or JPEG bytes (palette PNGs come back `.indexed`, everything else `.pixels`).
    public static func decode(_ data: Data, path: String = "<memory>") throws -> DecodedImage {
        switch detectFormat(data) {
        case .png: return try PNG.decode(data, path: path)
        case .jpeg: return .pixels(try JPEG.decode(data, path: path))
        case nil:
            let lead = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageIOError.unknownFormat(path: path, leadingBytes: lead)
        }
    }

    /// Reads a PNG or JPEG file as stored (palette PNGs keep indices and palette).
    public static func read(_ path: String) throws -> DecodedImage {
        try decode(readFile(path), path: path)
    }

    /// Reads any PNG or JPEG file as 3-channel RGB (PIL's `Image.open(path).convert("RGB")`).
    public static func readRGB(_ path: String) throws -> Image8 {
        try read(path).rgb
    }

    /// Reads an annotation mask: a palette PNG (indices + palette) or an 8-bit gray PNG (values as ids, empty palette),
    /// as SAM 2's `load_ann_png` does with `np.array(Image.open(path))`.
    public static func readIndexMask(_ path: String) throws -> IndexMask {
        let data = try readFile(path)
        guard PNG.hasSignature(data) else {
            throw ImageIOError.unsupported(path: path, reason: "an index mask must be a PNG file")
        }
        switch try PNG.decode(data, path: path) {
        case let .indexed(mask): return mask
        case let .pixels(image) where image.channels == 1:
            return try IndexMask(width: image.width, height: image.height, indices: image.pixels, palette: [])
        case let .pixels(image):
            throw ImageIOError.unsupported(path: path, reason: "an index mask must be a palette or gray PNG, this one has \(image.channels) channels")
        }
    }

    /// Writes an image; the format follows the extension (.png, or .jpg/.jpeg at `jpegQuality`).
    public static func write(_ image: Image8, to path: String, jpegQuality: Int = 90) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let data: Data
        switch ext {
        case "png": data = try PNG.encode(image, path: path)
        case "jpg", "jpeg": data = try JPEG.encode(image, quality: jpegQuality, path: path)
        default: throw ImageIOError.unwritable(path: path, reason: "unknown extension '.\(ext)' (use .png, .jpg or .jpeg)")
        }
        try writeFile(data, to: path)
    }

    /// Writes an index mask as a palette PNG (DAVIS palette when the mask has none); index = object id.
    public static func write(_ mask: IndexMask, to path: String) throws {
        try writeFile(PNG.encode(mask, path: path), to: path)
    }

    private static func readFile(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageIOError.unreadable(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw ImageIOError.unreadable(path: path, reason: "is a directory") }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) }
        catch { throw ImageIOError.unreadable(path: path, reason: error.localizedDescription) }
    }

    private static func writeFile(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw ImageIOError.unwritable(path: path, reason: error.localizedDescription) }
    }
}
