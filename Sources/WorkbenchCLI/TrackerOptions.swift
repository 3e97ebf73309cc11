import ArgumentParser
import Foundation
import SAM2

/// The options of the commands that track through a video (`track`, `vos`): which registered memory policy
/// picks the memories, with its options, and how the video model is built from the image model.
struct TrackerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Registered memory policy (built in: official, score_gated; an unknown name lists the registered ones).", valueName: "name"))
    var memory: String = "official"

    @Option(name: .customLong("memory-option"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An option of the memory policy, e.g. num_maskmem=5 or evict=false. Repeatable.",
                               valueName: "key=value"),
            transform: { try MemoryOptionArgument.parse($0) })
    var memoryOptions: [MemoryOptionArgument] = []

    func validate() throws {
        var seen = Set<String>()
        for o in memoryOptions where !seen.insert(o.key).inserted {
            throw ValidationError("--memory-option \(o.key) is given twice")
        }
        // Unknown policies, option names and types are reported before any model is loaded.
        _ = try Registry.shared.makeMemoryPolicy(memory, options: options)
    }

    /// The options as the registry takes them.
    var options: [String: OptionValue] {
        Dictionary(memoryOptions.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// A fresh policy (one per predictor: a policy may keep per-video state).
    func makePolicy() -> any MemoryPolicy {
        CLI.orFail { try Registry.shared.makeMemoryPolicy(memory, options: options) }
    }

    /// The image model of `model` plus its memory modules. `postprocessing` false gives the official
    /// `build_sam2_video_predictor(apply_postprocessing=False)` model: clicked-frame masks not binarised for the
    /// memory encoder (the caller also turns hole filling off on the predictor).
    static func videoModel(_ model: ModelOptions, postprocessing: Bool = true) -> SAM2VideoModel {
        let image = model.load()
        return CLI.orFail {
            let checkpoint = try Checkpoint.open(model.checkpoint)
            var tracking = SAM2TrackingConfig.inferred(from: checkpoint, family: image.config.family)
            if !postprocessing { tracking.binarizeMaskFromPtsForMemEnc = false }
            return try SAM2VideoModel(model: image, checkpoint: checkpoint, config: tracking)
        }
    }
}

/// One `--memory-option key=value`: true/false → bool, an integer → int, another number → number, else string.
struct MemoryOptionArgument: Sendable, Equatable {
    var key: String
    var value: OptionValue

    static func parse(_ text: String) throws -> MemoryOptionArgument {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw ValidationError("--memory-option '\(text)': expected key=value")
        }
        let key = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let raw = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        let value: OptionValue
        switch raw.lowercased() {
        case "true": value = .bool(true)
        case "false": value = .bool(false)
        default:
            if let i = Int(raw) { value = .int(i) }
            else if let d = Double(raw), d.isFinite { value = .number(d) }
            else { value = .string(raw) }
        }
        return MemoryOptionArgument(key: key, value: value)
    }
}
