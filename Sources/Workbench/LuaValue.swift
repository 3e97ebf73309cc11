/// A Lua value copied into Swift (arguments and option tables), or a value to push back as a result.
public indirect enum LuaValue {
    case `nil`
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case table(LuaTable)
    /// A Swift object boxed in a userdata (read from Lua, or to push as a new userdata).
    case object(LuaObject)
    /// A Lua function still on the stack of the current call (absolute index); valid only during that call.
    case function(stackIndex: Int32)
    /// A Swift function registered with the state (pushed as a Lua closure).
    case swiftFunction(id: Int)
    /// Anything else (coroutines, foreign userdata), kept by its type name for error messages.
    case other(typeName: String)

    /// The type name Lua's error messages use ("number", "string", "sam2.mask", …).
    public var typeName: String {
        switch self {
        case .nil: return "nil"
        case .bool: return "boolean"
        case .int, .number: return "number"
        case .string: return "string"
        case .table: return "table"
        case let .object(o): return type(of: o).luaTypeName
        case .function, .swiftFunction: return "function"
        case let .other(name): return name
        }
    }

    /// The number, for .int and .number.
    public var double: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .number(d): return d
        default: return nil
        }
    }

    /// Convenience: an array table of values.
    public static func array(_ values: [LuaValue]) -> LuaValue { .table(LuaTable(array: values)) }
    /// Convenience: a record table.
    public static func record(_ fields: [(String, LuaValue)]) -> LuaValue { .table(LuaTable(fields: fields)) }
    /// Convenience: an optional string (nil → nil).
    public static func string(_ s: String?) -> LuaValue { s.map { .string($0) } ?? .nil }
}

/// A Lua table copied into Swift: its sequence 1…#t and its string keys (other keys are ignored).
public struct LuaTable {
    /// Values at 1…n.
    public var array: [LuaValue]
    /// String-keyed fields, in the order they were added (reading from Lua gives `next` order).
    public var fields: [(String, LuaValue)]

    /// A table with the given parts.
    public init(array: [LuaValue] = [], fields: [(String, LuaValue)] = []) {
        self.array = array; self.fields = fields
    }

    /// The field named `key` (nil when absent).
    public subscript(key: String) -> LuaValue {
        fields.first(where: { $0.0 == key })?.1 ?? .nil
    }

    /// Field names.
    public var keys: [String] { fields.map(\.0) }
}
