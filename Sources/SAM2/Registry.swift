import Foundation

/// The kinds of swappable parts.
public enum ComponentKind: String, CaseIterable, Sendable, Codable {
    case imageEncoder = "encoder"
    case maskDecoder = "decoder"
    case memoryPolicy = "memory"
    case promptSchedule = "prompts"
}

/// A typed option value passed to a component factory (from the CLI, Lua tables or Swift).
public enum OptionValue: Sendable, Equatable, CustomStringConvertible, Codable {
    case int(Int), number(Double), bool(Bool), string(String)

    public var description: String {
        switch self {
        case let .int(v): return String(v)
        case let .number(v): return String(v)
        case let .bool(v): return String(v)
        case let .string(v): return v
        }
    }

    /// The name of the value's type as options declare it.
    public var typeName: String {
        switch self {
        case .int: return "int"
        case .number: return "number"
        case .bool: return "bool"
        case .string: return "string"
        }
    }
}

/// One declared option of a component: name, type, default and what it does.
public struct ComponentOption: Sendable, Equatable, Codable {
    public var name: String
    public var defaultValue: OptionValue
    public var summary: String

    /// Declares an option; its type is the default's.
    public init(_ name: String, _ defaultValue: OptionValue, _ summary: String) {
        self.name = name; self.defaultValue = defaultValue; self.summary = summary
    }
}

/// What a registered component is: kind, name, one-line summary, options.
public struct ComponentDescriptor: Sendable, Equatable, Codable {
    public var kind: ComponentKind
    public var name: String
    public var summary: String
    public var options: [ComponentOption]

    public init(kind: ComponentKind, name: String, summary: String, options: [ComponentOption] = []) {
        self.kind = kind; self.name = name; self.summary = summary; self.options = options
    }

    /// Fills defaults and checks names and types: unknown options and wrong types are errors naming both.
    public func resolve(_ given: [String: OptionValue]) throws -> ResolvedOptions {
        var values: [String: OptionValue] = [:]
        for o in options { values[o.name] = o.defaultValue }
        for (key, value) in given {
            guard let declared = options.first(where: { $0.name == key }) else {
                throw RegistryError.unknownOption(kind: kind, component: name, option: key, known: options.map(\.name))
            }
            switch (declared.defaultValue, value) {
            case (.int, .int), (.number, .number), (.bool, .bool), (.string, .string): values[key] = value
            case (.number, .int(let i)): values[key] = .number(Double(i))
            case (.int, .number(let d)) where d == d.rounded() && abs(d) < 1e15: values[key] = .int(Int(d))
            default:
                throw RegistryError.optionType(kind: kind, component: name, option: key,
                                               expected: declared.defaultValue.typeName, got: value.typeName)
            }
        }
        return ResolvedOptions(component: name, values: values)
    }
}

/// Options after defaults were filled in and types checked.
public struct ResolvedOptions: Sendable, Equatable {
    public let component: String
    public let values: [String: OptionValue]

    /// An int option (declared with an int default).
    public func int(_ name: String) -> Int { if case let .int(v)? = values[name] { return v }; fatalError("\(component): no int option \(name)") }
    /// A number option (declared with a number default).
    public func number(_ name: String) -> Double { if case let .number(v)? = values[name] { return v }; fatalError("\(component): no number option \(name)") }
    /// A bool option (declared with a bool default).
    public func bool(_ name: String) -> Bool { if case let .bool(v)? = values[name] { return v }; fatalError("\(component): no bool option \(name)") }
    /// A string option (declared with a string default).
    public func string(_ name: String) -> String { if case let .string(v)? = values[name] { return v }; fatalError("\(component): no string option \(name)") }
}

/// Errors looking up or configuring registered components.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case unknownComponent(kind: ComponentKind, name: String, known: [String])
    case unknownOption(kind: ComponentKind, component: String, option: String, known: [String])
    case optionType(kind: ComponentKind, component: String, option: String, expected: String, got: String)
    case duplicate(kind: ComponentKind, name: String)

    public var description: String {
        switch self {
        case let .unknownComponent(kind, name, known):
            return "unknown \(kind.rawValue) '\(name)' (registered: \(known.joined(separator: ", ")))"
        case let .unknownOption(kind, component, option, known):
            return "\(kind.rawValue) '\(component)': unknown option '\(option)' (options: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case let .optionType(kind, component, option, expected, got):
            return "\(kind.rawValue) '\(component)': option '\(option)' expects \(expected), got \(got)"
        case let .duplicate(kind, name): return "\(kind.rawValue) '\(name)' is already registered"
        }
    }
}

/// Named factories for the swappable parts. Built-in parts register themselves on first use; Swift code and
/// the Lua workbench add their own with `register`.
public final class Registry: @unchecked Sendable {
    /// Builds an image encoder from the checkpoint's weights under `image_encoder`.
    public typealias ImageEncoderFactory = @Sendable (Weights, SAM2ModelConfig, ResolvedOptions) throws -> any ImageEncoder
    /// Builds a mask decoder from the weights under `sam_mask_decoder`.
    public typealias MaskDecoderFactory = @Sendable (Weights, SAM2ModelConfig, ResolvedOptions) throws -> MaskDecoder
    /// Builds a component of a kind whose protocol lives outside this file (memory policies, prompt schedules).
    public typealias AnyFactory = @Sendable (ResolvedOptions) throws -> Any

    private struct Entry<F> { var descriptor: ComponentDescriptor; var factory: F }

    private let lock = NSLock()
    private var imageEncoders: [String: Entry<ImageEncoderFactory>] = [:]
    private var maskDecoders: [String: Entry<MaskDecoderFactory>] = [:]
    private var others: [ComponentKind: [String: Entry<AnyFactory>]] = [:]

    /// The process-wide registry with the built-in components.
    public static let shared: Registry = {
        let r = Registry()
        r.registerBuiltins()
        return r
    }()

    /// An empty registry (tests); `shared` holds the built-ins.
    public init() {}

    /// Adds an image encoder.
    public func registerImageEncoder(_ descriptor: ComponentDescriptor, replace: Bool = false, _ factory: @escaping ImageEncoderFactory) throws {
        try locked { try insert(&imageEncoders, descriptor, factory, replace: replace) }
    }

    /// Adds a mask decoder.
    public func registerMaskDecoder(_ descriptor: ComponentDescriptor, replace: Bool = false, _ factory: @escaping MaskDecoderFactory) throws {
        try locked { try insert(&maskDecoders, descriptor, factory, replace: replace) }
    }

    /// Adds a component of another kind (memory policy, prompt schedule); `make(kind:name:options:)` returns it.
    public func register(_ descriptor: ComponentDescriptor, replace: Bool = false, _ factory: @escaping AnyFactory) throws {
        try locked { try insert(&others[descriptor.kind, default: [:]], descriptor, factory, replace: replace) }
    }

    /// Every registered component, optionally of one kind, sorted by kind then name.
    public func components(_ kind: ComponentKind? = nil) -> [ComponentDescriptor] {
        locked {
            var all = imageEncoders.values.map(\.descriptor) + maskDecoders.values.map(\.descriptor)
            for table in others.values { all += table.values.map(\.descriptor) }
            return all.filter { kind == nil || $0.kind == kind }
                .sorted { ($0.kind.rawValue, $0.name) < ($1.kind.rawValue, $1.name) }
        }
    }

    /// The descriptor of a registered component.
    public func descriptor(_ kind: ComponentKind, _ name: String) throws -> ComponentDescriptor {
        guard let d = components(kind).first(where: { $0.name == name }) else {
            throw RegistryError.unknownComponent(kind: kind, name: name, known: components(kind).map(\.name))
        }
        return d
    }

    /// Builds the named image encoder.
    public func makeImageEncoder(_ name: String, weights: Weights, config: SAM2ModelConfig,
                                 options: [String: OptionValue] = [:]) throws -> any ImageEncoder {
        let entry = try locked { try lookup(imageEncoders, .imageEncoder, name) }
        return try entry.factory(weights, config, try entry.descriptor.resolve(options))
    }

    /// Builds the named mask decoder.
    public func makeMaskDecoder(_ name: String, weights: Weights, config: SAM2ModelConfig,
                                options: [String: OptionValue] = [:]) throws -> MaskDecoder {
        let entry = try locked { try lookup(maskDecoders, .maskDecoder, name) }
        return try entry.factory(weights, config, try entry.descriptor.resolve(options))
    }

    /// Builds a component of another kind; the caller casts to the kind's protocol.
    public func make(_ kind: ComponentKind, _ name: String, options: [String: OptionValue] = [:]) throws -> Any {
        let entry = try locked { try lookup(others[kind] ?? [:], kind, name) }
        return try entry.factory(try entry.descriptor.resolve(options))
    }

    private func registerBuiltins() {
        // Errors here would be programmer errors (duplicate built-in names).
        try! register(OfficialMemoryPolicy.descriptor) { try OfficialMemoryPolicy(options: $0) }
        try! register(ScoreGatedMemoryPolicy.descriptor) { try ScoreGatedMemoryPolicy(options: $0) }
        try! PromptSchedules.register(in: self)
        try! registerImageEncoder(ComponentDescriptor(
            kind: .imageEncoder, name: "hiera",
            summary: "official SAM 2 image encoder: Hiera trunk + FPN neck (config from the checkpoint's shapes)")) { w, config, _ in
            try HieraImageEncoder(w, config: config.encoder)
        }
        try! registerMaskDecoder(ComponentDescriptor(
            kind: .maskDecoder, name: "sam2",
            summary: "official SAM 2 mask decoder: two-way transformer, 3+1 mask tokens, IoU and object-score heads",
            options: [ComponentOption("dynamic_multimask_via_stability", .bool(true),
                                      "single-mask requests fall back to the best multimask output when unstable"),
                      ComponentOption("stability_delta", .number(0.05), "logit offset of the stability score"),
                      ComponentOption("stability_thresh", .number(0.98), "stability below which the fallback applies")])) { w, config, o in
            var c = config.decoder
            c.dynamicMultimaskViaStability = o.bool("dynamic_multimask_via_stability")
            c.dynamicMultimaskStabilityDelta = Float(o.number("stability_delta"))
            c.dynamicMultimaskStabilityThresh = Float(o.number("stability_thresh"))
            return try MaskDecoder(w, config: c)
        }
    }

    private func insert<F>(_ table: inout [String: Entry<F>], _ d: ComponentDescriptor, _ f: F, replace: Bool) throws {
        if table[d.name] != nil && !replace { throw RegistryError.duplicate(kind: d.kind, name: d.name) }
        table[d.name] = Entry(descriptor: d, factory: f)
    }

    private func lookup<F>(_ table: [String: Entry<F>], _ kind: ComponentKind, _ name: String) throws -> Entry<F> {
        guard let e = table[name] else {
            throw RegistryError.unknownComponent(kind: kind, name: name, known: table.keys.sorted())
        }
        return e
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }
}
