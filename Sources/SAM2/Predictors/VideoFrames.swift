import Foundation

/// Errors opening or reading video frames; they name the folder or file.
public enum VideoFramesError: Error, CustomStringConvertible, Equatable {
    case notAFolder(path: String)
    case noFrames(path: String)
    case badFrameName(path: String, name: String)
    case duplicateFrameNumber(path: String, number: Int, names: [String])
    case sizeMismatch(file: String, expected: String, got: String)
    case frameOutOfRange(frame: Int, count: Int)

    public var description: String {
        switch self {
        case let .notAFolder(path): return "\(path): not a folder of frames"
        case let .noFrames(path): return "\(path): no JPEG or PNG frames found"
        case let .badFrameName(path, name):
            return "\(path)/\(name): frame file names must be frame numbers (e.g. 00000.jpg)"
        case let .duplicateFrameNumber(path, number, names):
            return "\(path): frame number \(number) appears twice (\(names.joined(separator: ", ")))"
        case let .sizeMismatch(file, expected, got): return "\(file): frame is \(got), the video is \(expected)"
        case let .frameOutOfRange(frame, count): return "frame \(frame) does not exist (the video has frames 0..<\(count))"
        }
    }
}

/// The frames of a video, decoded on demand.
public protocol VideoFrameSource: Sendable {
    /// Number of frames.
    var frameCount: Int { get }
    /// Frame size (all frames have it).
    var width: Int { get }
    var height: Int { get }
    /// A name per frame for outputs (the input file stem, e.g. "00003").
    func frameName(_ index: Int) -> String
    /// Decodes frame `index` as 8-bit RGB.
    func frame(_ index: Int) throws -> Image8
}

/// A folder of JPEG or PNG frames sorted by frame number (the official video loader's layout).
public struct FrameFolder: VideoFrameSource {
    public let path: String
    /// File names, in frame order.
    public let fileNames: [String]
    public let width: Int
    public let height: Int

    /// Lists the frames (names must be integers, e.g. 00000.jpg) and reads the size of the first.
    public init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw VideoFramesError.notAFolder(path: path)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        var numbered: [(Int, String)] = []
        for name in names {
            let ext = (name as NSString).pathExtension.lowercased()
            guard ["jpg", "jpeg", "png"].contains(ext) else { continue }
            guard let n = Int((name as NSString).deletingPathExtension) else {
                throw VideoFramesError.badFrameName(path: path, name: name)
            }
            numbered.append((n, name))
        }
        guard !numbered.isEmpty else { throw VideoFramesError.noFrames(path: path) }
        numbered.sort { $0 < $1 }
        for i in 1..<numbered.count where numbered[i].0 == numbered[i - 1].0 {
            throw VideoFramesError.duplicateFrameNumber(path: path, number: numbered[i].0, names: [numbered[i - 1].1, numbered[i].1])
        }
        self.path = path
        fileNames = numbered.map(\.1)
        let first = try ImageIO.read((path as NSString).appendingPathComponent(fileNames[0]))
        width = first.width
        height = first.height
    }

    public var frameCount: Int { fileNames.count }

    public func frameName(_ index: Int) -> String { (fileNames[index] as NSString).deletingPathExtension }

    public func frame(_ index: Int) throws -> Image8 {
        guard index >= 0 && index < fileNames.count else { throw VideoFramesError.frameOutOfRange(frame: index, count: fileNames.count) }
        let file = (path as NSString).appendingPathComponent(fileNames[index])
        let image = try ImageIO.readRGB(file)
        guard image.width == width, image.height == height else {
            throw VideoFramesError.sizeMismatch(file: file, expected: "\(width)×\(height)", got: "\(image.width)×\(image.height)")
        }
        return image
    }
}

/// Frames produced by a closure (synthetic videos, tests).
public struct GeneratedFrames: VideoFrameSource {
    public let frameCount: Int
    public let width: Int
    public let height: Int
    private let make: @Sendable (Int) throws -> Image8

    public init(frameCount: Int, width: Int, height: Int, _ make: @escaping @Sendable (Int) throws -> Image8) {
        self.frameCount = frameCount
        self.width = width
        self.height = height
        self.make = make
    }

    public func frameName(_ index: Int) -> String { String(format: "%05d", index) }

    public func frame(_ index: Int) throws -> Image8 {
        guard index >= 0 && index < frameCount else { throw VideoFramesError.frameOutOfRange(frame: index, count: frameCount) }
        return try make(index)
    }
}

/// The official video loader's preprocessing (`_load_img_as_tensor` + normalisation): Pillow bicubic resize of
/// the 8-bit RGB frame to S×S, /255 in double precision stored as float32, then (x − mean) / std in float32.
public enum VideoFramePreprocessing {
    /// An 8-bit frame → [1, 3, S, S].
    public static func tensor(_ image: Image8, imageSize s: Int) -> Tensor {
        let resized = PILResize.resize(image.rgb, width: s, height: s, filter: .bicubic)
        let mean = SAM2Transforms.mean, std = SAM2Transforms.std
        let lut: [[Float]] = (0..<3).map { c in (0..<256).map { v in (Float(Double(v) / 255.0) - mean[c]) / std[c] } }
        let plane = s * s
        return resized.pixels.withUnsafeBufferPointer { src in
            Tensor(shape: [1, 3, s, s]) { dst in
                for c in 0..<3 {
                    let table = lut[c]
                    for p in 0..<plane { dst[c * plane + p] = table[Int(src[p * 3 + c])] }
                }
            }
        }
    }
}
