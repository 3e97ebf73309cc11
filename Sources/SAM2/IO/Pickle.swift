import Foundation

/// A mutable Python list (pickle mutates lists after memoising them, so they need reference semantics).
public final class PickleList: @unchecked Sendable {
    /// Elements in order.
    public var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A mutable Python dict, keeping insertion order like Python's dict and OrderedDict.
public final class PickleDict: @unchecked Sendable {
    /// Key/value pairs in insertion order (later duplicates replace earlier ones, as in Python).
    public private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case let .string(s) = key, let i = stringIndex[s] { items[i].value = value; return }
        if case let .string(s) = key { stringIndex[s] = items.count }
        items.append((key, value))
    }

    /// The value stored under a string key.
    public subscript(_ key: String) -> PickleValue? { stringIndex[key].map { items[$0].value } }
}

/// An instance of a class the loader does not interpret (kept so that unknown globals never stop loading).
public final class PickleObject: @unchecked Sendable {
    /// The callable or class that made it (usually `.global`).
    public let callable: PickleValue
    /// Constructor arguments.
    public let args: PickleValue
    /// State passed to BUILD, if any.
    public var state: PickleValue?
    /// Items added with SETITEM(S) / APPEND(S) (dict and list subclasses).
    public var dictItems: [(PickleValue, PickleValue)] = []
    public var listItems: [PickleValue] = []
    init(callable: PickleValue, args: PickleValue) { self.callable = callable; self.args = args }
}

/// A Python value produced by the unpickler.
public enum PickleValue: @unchecked Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A reference to `module.name` (a class or function), from GLOBAL / STACK_GLOBAL.
    case global(module: String, name: String)
    case object(PickleObject)
    /// A value made by the caller's hooks (e.g. a tensor or storage reference).
    case custom(Any)

    /// The string, if this is one.
    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    /// The integer (bools count as 0/1, as in Python), if this is one.
    public var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
    /// Elements of a tuple or list.
    public var sequence: [PickleValue]? {
        switch self {
        case let .tuple(t): return t
        case let .list(l): return l.items
        default: return nil
        }
    }
}

/// Decodes the pickle opcodes (protocols 0–5, binary forms) that `torch.save` and state dicts use.
public struct Unpickler {
    /// Turns a persistent id (BINPERSID) into a value; torch uses it for storages.
    public var persistentLoad: (PickleValue) throws -> PickleValue
    /// Interprets `module.name(*args)`; return nil to keep a generic `PickleObject`.
    public var reduce: (_ module: String, _ name: String, _ args: PickleValue) throws -> PickleValue?
    /// File named in errors.
    public let path: String

    /// A decoder for a pickle in `path` with the given hooks.
    public init(path: String, persistentLoad: @escaping (PickleValue) throws -> PickleValue = { _ in .none },
                reduce: @escaping (String, String, PickleValue) throws -> PickleValue? = { _, _, _ in nil }) {
        self.path = path; self.persistentLoad = persistentLoad; self.reduce = reduce
    }

    /// Runs the pickle program in `bytes` and returns the value left by STOP.
    public func load(_ bytes: [UInt8]) throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        var pos = 0
        var opStart = 0
        let path = self.path

        func fail(_ reason: String) -> CheckpointError { .malformedPickle(path: path, offset: opStart, reason: reason) }
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - pos else { throw fail("operand of \(n) bytes runs past the end of data.pkl") }
            defer { pos += n }
            return bytes[pos..<pos + n]
        }
        func le(_ n: Int) throws -> UInt64 {
            var v: UInt64 = 0
            for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            return v
        }
        func length(_ n: Int) throws -> Int {
            let v = try le(n)
            guard v <= UInt64(bytes.count) else { throw fail("length \(v) exceeds data.pkl") }
            return Int(v)
        }
        func line() throws -> String {
            guard let nl = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("unterminated text operand") }
            defer { pos = nl + 1 }
            return String(decoding: bytes[pos..<nl], as: UTF8.self)
        }
        func pop() throws -> PickleValue {
            guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow") }
            return v
        }
        func popMark() throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK on the stack") }
            defer { stack.removeSubrange(m...) }
            return Array(stack[m...])
        }
        func top() throws -> PickleValue {
            guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
            return v
        }
        func string(_ slice: ArraySlice<UInt8>) throws -> PickleValue {
            guard let s = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 string") }
            return .string(s)
        }
        func signedLong(_ slice: ArraySlice<UInt8>) throws -> PickleValue {
            guard slice.count <= 8 else { throw fail("integer of \(slice.count) bytes is too large") }
            if slice.isEmpty { return .int(0) }
            var v: UInt64 = 0
            for (i, b) in slice.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            let shift = UInt64(64 - 8 * slice.count)
            return .int(Int(Int64(bitPattern: v << shift) >> Int64(shift)))  // sign-extend
        }
        func call(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
            if case let .global(module, name) = callable {
                if module == "collections" && name == "OrderedDict" || module == "builtins" && name == "dict" {
                    let d = PickleDict()
                    for pair in args.sequence?.first?.sequence ?? [] {
                        if let kv = pair.sequence, kv.count == 2 { d.set(kv[0], kv[1]) }
                    }
                    return .dict(d)
                }
                if let v = try reduce(module, name, args) { return v }
            }
            return .object(PickleObject(callable: callable, args: args))
        }
        func setItems(_ target: PickleValue, _ kvs: [PickleValue]) throws {
            guard kvs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
            switch target {
            case let .dict(d): for i in stride(from: 0, to: kvs.count, by: 2) { d.set(kvs[i], kvs[i + 1]) }
            case let .object(o): for i in stride(from: 0, to: kvs.count, by: 2) { o.dictItems.append((kvs[i], kvs[i + 1])) }
            default: throw fail("SETITEM on a value that is not a dict")
            }
        }
        func append(_ target: PickleValue, _ vs: [PickleValue]) throws {
            switch target {
            case let .list(l): l.items.append(contentsOf: vs)
            case let .object(o): o.listItems.append(contentsOf: vs)
            default: throw fail("APPEND on a value that is not a list")
            }
        }
        func get(_ i: Int) throws -> PickleValue {
            guard let v = memo[i] else { throw fail("memo key \(i) was never stored") }
            return v
        }

        while pos < bytes.count {
            opStart = pos
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80: _ = try take(1)                                   // PROTO
            case 0x95: _ = try take(8)                                   // FRAME (framing is irrelevant in memory)
            case 0x2E: return try pop()                                  // STOP
            case 0x7D: stack.append(.dict(PickleDict()))                 // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList()))                 // EMPTY_LIST
            case 0x29: stack.append(.tuple([]))                          // EMPTY_TUPLE
            case 0x8F: stack.append(.list(PickleList()))                 // EMPTY_SET (kept as a list)
            case 0x28: marks.append(stack.count)                         // MARK
            case 0x58: stack.append(try string(try take(try length(4))))     // BINUNICODE
            case 0x8C: stack.append(try string(try take(try length(1))))     // SHORT_BINUNICODE
            case 0x8D: stack.append(try string(try take(try length(8))))     // BINUNICODE8
            case 0x55: stack.append(.string(String(decoding: try take(try length(1)), as: UTF8.self)))  // SHORT_BINSTRING
            case 0x54: stack.append(.string(String(decoding: try take(try length(4)), as: UTF8.self)))  // BINSTRING
            case 0x43: stack.append(.bytes(Array(try take(try length(1)))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try take(try length(4)))))  // BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try take(try length(8)))))  // BINBYTES8, BYTEARRAY8
            case 0x71: memo[Int(try le(1))] = try top()                 // BINPUT
            case 0x72: memo[Int(try le(4))] = try top()                 // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()                     // MEMOIZE
            case 0x70:                                                   // PUT
                guard let i = Int(try line()) else { throw fail("bad PUT index") }
                memo[i] = try top()
            case 0x68: stack.append(try get(Int(try le(1))))            // BINGET
            case 0x6A: stack.append(try get(Int(try le(4))))            // LONG_BINGET
            case 0x67:                                                   // GET
                guard let i = Int(try line()) else { throw fail("bad GET index") }
                stack.append(try get(i))
            case 0x63:                                                   // GLOBAL
                let module = try line(), name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93:                                                   // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.stringValue, let n = name.stringValue else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(.global(module: m, name: n))
            case 0x74: stack.append(.tuple(try popMark()))              // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                 // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))           // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x6C: stack.append(.list(PickleList(try popMark())))   // LIST
            case 0x64:                                                   // DICT
                let d = PickleDict()
                try setItems(.dict(d), try popMark())
                stack.append(.dict(d))
            case 0x91: stack.append(.list(PickleList(try popMark())))   // FROZENSET
            case 0x90: let items = try popMark(); try append(try top(), items)  // ADDITEMS
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try le(4)))))  // BININT
            case 0x4B: stack.append(.int(Int(try le(1))))                // BININT1
            case 0x4D: stack.append(.int(Int(try le(2))))                // BININT2
            case 0x8A: stack.append(try signedLong(try take(try length(1))))  // LONG1
            case 0x8B: stack.append(try signedLong(try take(try length(4))))  // LONG4
            case 0x49:                                                   // INT (protocol 0; "01"/"00" are bools)
                let t = try line()
                if t == "01" { stack.append(.bool(true)) } else if t == "00" { stack.append(.bool(false)) }
                else if let v = Int(t) { stack.append(.int(v)) } else { throw fail("bad INT '\(t)'") }
            case 0x88: stack.append(.bool(true))                         // NEWTRUE
            case 0x89: stack.append(.bool(false))                        // NEWFALSE
            case 0x4E: stack.append(.none)                               // NONE
            case 0x47: stack.append(.float(Double(bitPattern: try le(8).byteSwapped)))  // BINFLOAT (big-endian operand)
            case 0x51: stack.append(try persistentLoad(try pop()))       // BINPERSID
            case 0x52: let args = try pop(), callable = try pop(); stack.append(try call(callable, args))  // REDUCE
            case 0x81: let args = try pop(), cls = try pop(); stack.append(try call(cls, args))          // NEWOBJ
            case 0x92: _ = try pop(); let args = try pop(), cls = try pop(); stack.append(try call(cls, args))  // NEWOBJ_EX
            case 0x62:                                                   // BUILD
                let state = try pop()
                if case let .object(o) = try top() { o.state = state }   // dict/tensor BUILD sets attributes we do not need
            case 0x73: let v = try pop(), k = try pop(); try setItems(try top(), [k, v])  // SETITEM
            case 0x75: let kvs = try popMark(); try setItems(try top(), kvs)             // SETITEMS
            case 0x61: let v = try pop(); try append(try top(), [v])                      // APPEND
            case 0x65: let vs = try popMark(); try append(try top(), vs)                   // APPENDS
            case 0x30: _ = try pop()                                     // POP
            case 0x31: _ = try popMark()                                 // POP_MARK
            case 0x32: stack.append(try top())                           // DUP
            default:
                throw CheckpointError.unsupportedOpcode(path: path, opcode: op, offset: opStart)
            }
        }
        throw CheckpointError.truncated(path: path, reason: "data.pkl ends without a STOP opcode")
    }
}
