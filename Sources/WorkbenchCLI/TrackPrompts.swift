import Foundation
import SAM2

/// A PROMPTS.json that cannot be used; names the file, the prompt (0-based position in the list) and the key.
struct TrackPromptError: Error, CustomStringConvertible {
    var file: String
    var index: Int?
    var key: String?
    var message: String

    var description: String {
        var s = file
        if let index { s += ": prompt \(index)" }
        if let key { s += " key \"\(key)\"" }
        return s + ": " + message
    }
}

/// One entry of a `workbench track` PROMPTS.json, applied in list order before propagation.
struct TrackPrompt: Equatable {
    enum Action: Equatable {
        /// `add_new_points_or_box`: clicks [x, y] in video pixels with labels 1 / 0, and/or a box [x0, y0, x1, y1].
        case points(points: [[Float]], labels: [Int], box: [Float]?, clearOldPoints: Bool)
        /// `add_new_mask`: a PNG (path resolved against the PROMPTS.json folder).
        case mask(path: String)
        /// `clear_all_prompts_in_frame`.
        case clear
        /// `remove_object`.
        case remove
    }

    var frame: Int?
    var object: Int
    var action: Action

    static let keys: Set<String> = ["frame", "object", "points", "labels", "box", "mask", "clear_old_points", "clear", "remove"]
    static let form = """
        a list of {"frame": F, "object": ID, "points": [[x, y], …], "labels": [1|0, …]}, \
        {"frame": F, "object": ID, "box": [x0, y0, x1, y1]}, {"frame": F, "object": ID, "mask": "file.png"}, \
        {"frame": F, "object": ID, "clear": true} or {"object": ID, "remove": true}
        """

    /// Reads and checks PROMPTS.json (types, required keys, label values, box order, unknown keys).
    static func load(_ path: String) throws -> [TrackPrompt] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrackPromptError(file: path, message: "cannot read the file")
        }
        let entries: [Raw]
        do { entries = try JSONDecoder().decode([Raw].self, from: data) }
        catch let error as DecodingError { throw describe(error, file: path, data: data) }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try entries.enumerated().map { i, raw in try raw.prompt(file: path, index: i, base: base) }
    }

    /// The entry as decoded: every key optional, so checks can name the one at fault.
    private struct Raw: Decodable {
        var frame: Int?, object: Int?
        var points: [[Double]]?, labels: [Int]?, box: [Double]?
        var mask: String?
        var clearOldPoints: Bool?, clear: Bool?, remove: Bool?

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            for key in c.allKeys where !TrackPrompt.keys.contains(key.stringValue) {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription:
                    "unknown key (keys: \(TrackPrompt.keys.sorted().joined(separator: ", ")))")
            }
            frame = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "frame"))
            object = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "object"))
            points = try c.decodeIfPresent([[Double]].self, forKey: Key(stringValue: "points"))
            labels = try c.decodeIfPresent([Int].self, forKey: Key(stringValue: "labels"))
            box = try c.decodeIfPresent([Double].self, forKey: Key(stringValue: "box"))
            mask = try c.decodeIfPresent(String.self, forKey: Key(stringValue: "mask"))
            clearOldPoints = try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: "clear_old_points"))
            clear = try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: "clear"))
            remove = try c.decodeIfPresent(Bool.self, forKey: Key(stringValue: "remove"))
        }

        func prompt(file: String, index: Int, base: URL) throws -> TrackPrompt {
            func fail(_ key: String?, _ message: String) -> TrackPromptError {
                TrackPromptError(file: file, index: index, key: key, message: message)
            }
            guard let object else { throw fail("object", "missing (every prompt names its object id)") }
            guard object >= 0 else { throw fail("object", "expected an id ≥ 0, got \(object)") }
            let kinds = [points != nil || labels != nil || box != nil ? "points/labels/box" : nil, mask != nil ? "mask" : nil,
                         clear == true ? "clear" : nil, remove == true ? "remove" : nil].compactMap { $0 }
            guard kinds.count == 1 else {
                throw fail(nil, kinds.isEmpty ? "no prompt: give points and labels, a box, a mask, \"clear\": true or \"remove\": true"
                                              : "combines \(kinds.joined(separator: " and ")); give one per entry")
            }
            if remove == true {
                if frame != nil { throw fail("frame", "\"remove\" drops the object on every frame; give no frame") }
                return TrackPrompt(frame: nil, object: object, action: .remove)
            }
            guard let frame else { throw fail("frame", "missing") }
            guard frame >= 0 else { throw fail("frame", "expected a frame index ≥ 0, got \(frame)") }
            if clear == true { return TrackPrompt(frame: frame, object: object, action: .clear) }
            if let mask {
                guard !mask.isEmpty else { throw fail("mask", "expected a PNG file name") }
                let path = mask.hasPrefix("/") ? mask : base.appendingPathComponent(mask).path
                return TrackPrompt(frame: frame, object: object, action: .mask(path: path))
            }
            let pts = points ?? [], labs = labels ?? []
            guard !(points == nil && labels != nil) else { throw fail("points", "missing (\"labels\" needs one point per label)") }
            guard !(points != nil && labels == nil) else { throw fail("labels", "missing (one label, 1 or 0, per point)") }
            guard pts.count == labs.count else { throw fail("labels", "expected \(pts.count) labels (one per point), got \(labs.count)") }
            guard !pts.isEmpty || box != nil else { throw fail("points", "empty (give at least one point, or a box)") }
            for (i, p) in pts.enumerated() where p.count != 2 || !p.allSatisfy({ $0.isFinite }) {
                throw fail("points", "point \(i) is \(p); expected [x, y] in video pixels")
            }
            for (i, l) in labs.enumerated() where l != 0 && l != 1 {
                throw fail("labels", "label \(i) is \(l); expected 1 (positive) or 0 (negative)")
            }
            if let box {
                guard box.count == 4, box.allSatisfy({ $0.isFinite }) else { throw fail("box", "expected [x0, y0, x1, y1], got \(box)") }
                guard box[0] <= box[2], box[1] <= box[3] else { throw fail("box", "expected x0 ≤ x1 and y0 ≤ y1, got \(box)") }
                if clearOldPoints == false { throw fail("clear_old_points", "a box replaces the frame's clicks; it cannot be false with a box") }
            }
            return TrackPrompt(frame: frame, object: object,
                               action: .points(points: pts.map { $0.map(Float.init) }, labels: labs, box: box?.map(Float.init),
                                               clearOldPoints: clearOldPoints ?? true))
        }
    }

    /// A decoding error as "file: prompt i key "k": what was wrong".
    private static func describe(_ error: DecodingError, file: String, data: Data) -> TrackPromptError {
        func locate(_ path: [CodingKey]) -> (Int?, String?) {
            let index = path.first?.intValue
            let key = path.dropFirst().first.map { $0.stringValue }
            let rest = path.dropFirst(2).map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return (index, key.map { $0 + rest })
        }
        switch error {
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            let (i, k) = locate(context.codingPath)
            if context.codingPath.isEmpty { return TrackPromptError(file: file, message: "expected \(form)") }
            guard k != nil else { return TrackPromptError(file: file, index: i, message: "expected a JSON object") }
            return TrackPromptError(file: file, index: i, key: k, message: "expected \(typeName(type))")
        case let .keyNotFound(key, context):
            let (i, _) = locate(context.codingPath)
            return TrackPromptError(file: file, index: i, key: key.stringValue, message: "missing")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return TrackPromptError(file: file, message: "not valid JSON: \(syntaxError(data))") }
            let (i, k) = locate(context.codingPath)
            return TrackPromptError(file: file, index: i, key: k, message: context.debugDescription)
        @unknown default:
            return TrackPromptError(file: file, message: "\(error)")
        }
    }

    /// JSONDecoder does not say where the syntax breaks; JSONSerialization gives a character offset, shown as
    /// line and column.
    private static func syntaxError(_ data: Data) -> String {
        do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }
        catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            guard let r = detail.range(of: "character "), let offset = Int(detail[r.upperBound...].prefix { $0.isNumber }) else { return detail }
            let before = data.prefix(max(0, min(offset, data.count)))
            let line = before.filter { $0 == 0x0A }.count + 1
            let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            return "\(detail.prefix { $0 != "." && $0 != "\n" }.replacingOccurrences(of: " around character \(offset)", with: "")) at line \(line), column \(column)"
        }
        return "unexpected content"
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is [[Double]].Type: return "a list of [x, y] points"
        case is [Double].Type: return "a list of numbers"
        case is [Int].Type: return "a list of integers"
        default: return "\(type)"
        }
    }
}
