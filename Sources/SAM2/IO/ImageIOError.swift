import Foundation

/// Errors reading, decoding, encoding or converting images; each names the file (or argument) and the problem.
public enum ImageIOError: Error, CustomStringConvertible, Equatable {
    /// The file is missing or cannot be read.
    case unreadable(path: String, reason: String)
    /// The bytes are neither PNG nor JPEG (judged by the magic bytes, not the extension).
    case unknownFormat(path: String, leadingBytes: String)
    /// The decoder rejected the data (truncated, bad CRC, bad Huffman table, …); `message` is the decoder's own.
    case corrupt(path: String, format: String, message: String)
    /// A valid file this reader does not handle (bit depth, colour type/space).
    case unsupported(path: String, reason: String)
    /// Encoding or writing the file failed.
    case unwritable(path: String, reason: String)
    /// An argument (image, mask, tensor, palette) is not what the function needs.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read image: \(reason)"
        case let .unknownFormat(path, lead):
            return "\(path): not a PNG or JPEG file (leading bytes \(lead.isEmpty ? "none: empty file" : lead))"
        case let .corrupt(path, format, message): return "\(path): corrupt or truncated \(format) data: \(message)"
        case let .unsupported(path, reason): return "\(path): unsupported image: \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write image: \(reason)"
        case let .invalidArgument(reason): return "invalid image argument: \(reason)"
        }
    }
}
