import Foundation

/// The built-in prompt schedules as registry components (kind `.promptSchedule`), and typed lookup.
public enum PromptSchedules {
    static let clickOptions = [
        ComponentOption("k", .int(1), "first-frame clicks per object (the paper uses 1, 3, 5)"),
        ComponentOption("rule", .string("farthest"),
                        "error region of later clicks: \"farthest\" (official error-centre point) or \"largest\" (largest connected region)"),
    ]

    /// Descriptors of the built-ins, in registration order.
    public static let descriptors: [ComponentDescriptor] = [
        ComponentDescriptor(kind: .promptSchedule, name: "clicks",
                            summary: "k clicks on the first annotated frame: farthest-from-boundary point, then error centres",
                            options: clickOptions),
        ComponentDescriptor(kind: .promptSchedule, name: "box",
                            summary: "the ground truth's bounding box on the first annotated frame, optionally jittered",
                            options: [ComponentOption("noise", .number(0), "jitter as a fraction of the box side (0: tight box)"),
                                      ComponentOption("noise_model", .string("uniform"),
                                                      "\"uniform\" (SAM 2 sample_box_points) or \"gaussian\" (SAM paper)"),
                                      ComponentOption("bound", .number(20), "largest jitter in pixels"),
                                      ComponentOption("seed", .int(0), "base seed (each object has its own stream)")]),
        ComponentDescriptor(kind: .promptSchedule, name: "mask",
                            summary: "the ground-truth mask of the first annotated frame (semi-supervised VOS)"),
        ComponentDescriptor(kind: .promptSchedule, name: "offline",
                            summary: "first-frame clicks, then after each pass a corrective click per object on its worst-IoU frame",
                            options: clickOptions + [
                                ComponentOption("rounds", .int(3), "correction passes after the first propagation"),
                                ComponentOption("budget", .int(8), "corrective clicks per video (all objects and rounds)")]),
        ComponentDescriptor(kind: .promptSchedule, name: "online",
                            summary: "first-frame clicks, then corrective clicks while propagating where IoU falls below a threshold",
                            options: clickOptions + [
                                ComponentOption("threshold", .number(0.5), "IoU under which the current frame is corrected"),
                                ComponentOption("budget", .int(8), "corrective clicks per video (all objects)"),
                                ComponentOption("clicks_per_frame", .int(1), "corrective clicks one object may get on one frame")]),
    ]

    /// Builds a built-in schedule from resolved options (the registry has checked names and types).
    static func build(_ name: String, _ o: ResolvedOptions) throws -> any PromptSchedule {
        func clicks() throws -> ClickPromptSchedule {
            let rule = try ClickSimulation.ErrorRegionRule.parse(o.string("rule"), schedule: name)
            do { return try ClickPromptSchedule(k: o.int("k"), rule: rule) }
            catch PromptScheduleError.badOption(_, let option, let expected, let got) {
                throw PromptScheduleError.badOption(schedule: name, option: option, expected: expected, got: got)
            }
        }
        switch name {
        case "clicks": return try clicks()
        case "box":
            let fraction = o.number("noise"), bound = o.number("bound"), seed = o.int("seed")
            guard fraction >= 0, fraction.isFinite else {
                throw PromptScheduleError.badOption(schedule: name, option: "noise", expected: "a fraction >= 0", got: "\(fraction)")
            }
            guard bound >= 0, bound.isFinite else {
                throw PromptScheduleError.badOption(schedule: name, option: "bound", expected: "pixels >= 0", got: "\(bound)")
            }
            guard seed >= 0 else { throw PromptScheduleError.badOption(schedule: name, option: "seed", expected: ">= 0", got: "\(seed)") }
            let noise: ClickSimulation.BoxNoise
            switch o.string("noise_model") {
            case _ where fraction == 0: noise = .none
            case "uniform": noise = .uniform(fraction: fraction, bound: bound)
            case "gaussian": noise = .gaussian(fraction: fraction, bound: bound)
            case let other:
                throw PromptScheduleError.badOption(schedule: name, option: "noise_model", expected: "\"uniform\" or \"gaussian\"", got: "\"\(other)\"")
            }
            return BoxPromptSchedule(noise: noise, seed: UInt64(seed))
        case "mask": return MaskPromptSchedule()
        case "offline": return try OfflineCorrectionSchedule(initial: try clicks(), rounds: o.int("rounds"), budget: o.int("budget"))
        case "online":
            return try OnlineCorrectionSchedule(initial: try clicks(), threshold: o.number("threshold"), budget: o.int("budget"),
                                                clicksPerFrame: o.int("clicks_per_frame"))
        default: throw RegistryError.unknownComponent(kind: .promptSchedule, name: name, known: descriptors.map(\.name))
        }
    }

    /// Registers the built-ins in `registry` (done for `Registry.shared` at start-up).
    public static func register(in registry: Registry) throws {
        for d in descriptors {
            let name = d.name
            try registry.register(d) { try build(name, $0) }
        }
    }

    /// The schedule `name` of `registry` (default: shared) with `options`; unknown names or options and wrong
    /// types throw `RegistryError`, bad values `PromptScheduleError`.
    public static func make(_ name: String, options: [String: OptionValue] = [:],
                            registry: Registry = .shared) throws -> any PromptSchedule {
        guard let s = try registry.make(.promptSchedule, name, options: options) as? any PromptSchedule else {
            throw PromptScheduleError.notASchedule(name: name)
        }
        return s
    }
}
