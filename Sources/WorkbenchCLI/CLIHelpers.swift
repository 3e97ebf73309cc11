import ArgumentParser
import Foundation
import SAM2

/// What every subcommand shares: "warning:" / "error:" lines on stderr, a non-zero exit without a stack
/// trace, wall-clock timing, output folders and JSON files.
enum CLI {
    /// Prints "warning: …" on stderr and carries on.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// Prints "error: …" on stderr and exits with status 1.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        WorkbenchCommand.exit(withError: ExitCode.failure)
    }

    /// Runs `body`; a thrown error (typed errors describe themselves and name the file or argument) ends the
    /// process through `fail` instead of ArgumentParser's generic report.
    static func orFail<T>(_ body: () throws -> T) -> T {
        do { return try body() }
        catch let exit as ExitCode { WorkbenchCommand.exit(withError: exit) }
        catch let error as CustomStringConvertible { fail(error.description) }
        catch { fail("\(error)") }
    }

    /// Monotonic clock in seconds, for timings.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Creates `path` (and its parents) if needed; fails with a message naming `argument` otherwise.
    static func makeDirectory(_ path: String, argument: String) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { fail("\(argument) \(path): exists and is not a directory") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { fail("\(argument) \(path): cannot create directory: \(error.localizedDescription)") }
    }

    /// Writes `value` as pretty-printed JSON (sorted keys so runs diff cleanly, slashes unescaped).
    static func writeJSON<T: Encodable>(_ value: T, to path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { fail("\(path): cannot write JSON: \(error.localizedDescription)") }
    }

    /// `directory/name` as a path string.
    static func join(_ directory: String, _ name: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(name).path
    }
}

/// A malformed prompt argument; names the option, the value given and the expected form.
struct PromptArgumentError: Error, CustomStringConvertible {
    var option: String
    var value: String
    var expected: String
    var description: String { "expected \(expected)" }
}

/// A click "X,Y[,LABEL]" in image pixels; LABEL 1 (positive, the default) or 0 (negative).
struct PointArgument: Sendable, Equatable {
    var x: Double
    var y: Double
    var label: Int

    static let form = "X,Y or X,Y,LABEL (pixels; LABEL 1 = positive, 0 = negative)"

    /// Parses "X,Y[,LABEL]"; used as the ArgumentParser transform of `--point`.
    static func parse(_ text: String) throws -> PointArgument {
        let fields = try numbers(text, option: "--point", count: 2...3, form: form)
        var label = 1
        if fields.count == 3 {
            guard fields[2] == 0 || fields[2] == 1 else {
                throw PromptArgumentError(option: "--point", value: text, expected: "LABEL 1 (positive) or 0 (negative) in \(form)")
            }
            label = Int(fields[2])
        }
        return PointArgument(x: fields[0], y: fields[1], label: label)
    }
}

/// A box "X0,Y0,X1,Y1" in image pixels (top-left and bottom-right corners).
struct BoxArgument: Sendable, Equatable {
    var x0: Double, y0: Double, x1: Double, y1: Double

    static let form = "X0,Y0,X1,Y1 (pixels, top-left then bottom-right corner)"

    /// Parses "X0,Y0,X1,Y1"; an inverted box (X1 < X0 or Y1 < Y0) is an error, as it is almost always
    /// a swapped argument (the official predictor would silently accept it).
    static func parse(_ text: String) throws -> BoxArgument {
        let f = try numbers(text, option: "--box", count: 4...4, form: form)
        guard f[0] <= f[2], f[1] <= f[3] else {
            throw PromptArgumentError(option: "--box", value: text, expected: "X0 ≤ X1 and Y0 ≤ Y1 in \(form)")
        }
        return BoxArgument(x0: f[0], y0: f[1], x1: f[2], y1: f[3])
    }
}

/// Comma-separated finite numbers, `count` of them.
private func numbers(_ text: String, option: String, count: ClosedRange<Int>, form: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespaces) }
    guard count.contains(parts.count) else {
        throw PromptArgumentError(option: option, value: text, expected: "\(form), got \(parts.count) field\(parts.count == 1 ? "" : "s")")
    }
    return try parts.map { part in
        guard let v = Double(part), v.isFinite else {
            throw PromptArgumentError(option: option, value: text, expected: "\(form); '\(part)' is not a finite number")
        }
        return v
    }
}
