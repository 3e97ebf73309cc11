import Foundation
import SAM2

/// A tensor held by Lua (`sam2.tensor`): shape, element access, a few statistics.
public final class TensorObject: LuaObject {
    override public class var luaTypeName: String { "sam2.tensor" }
    /// The values.
    public let tensor: Tensor
    /// Wraps a tensor.
    public init(_ tensor: Tensor) { self.tensor = tensor }

    override public var luaDescription: String {
        let shown = tensor.data.prefix(6).map { String(format: "%.4g", $0) }
        let more = tensor.count > shown.count ? ", …" : ""
        return "sam2.tensor [" + tensor.shape.map(String.init).joined(separator: ", ") + "] {" + shown.joined(separator: ", ") + more + "}"
    }
}

enum TensorBindings {
    static func install(into state: LuaState) {
        state.defineType(TensorObject.self, methods: [
            ("get", { call, me in
                let t = me.tensor
                guard call.count - 1 == t.rank else {
                    throw call.argumentError(2, "\(t.rank) indices expected, got \(call.count - 1)")
                }
                var offset = 0
                for (axis, stride) in t.strides.enumerated() {
                    let i = try call.int(axis + 2)
                    guard (1...t.shape[axis]).contains(i) else {
                        throw call.argumentError(axis + 2, "index \(i) out of range 1…\(t.shape[axis])")
                    }
                    offset += (i - 1) * stride
                }
                return [.number(Double(t.data[offset]))]
            }),
            ("totable", { call, me in
                guard me.tensor.count <= 1 << 22 else { throw call.argumentError(1, "tensor too large for a table (\(me.tensor.count) values)") }
                return [nested(me.tensor, axis: 0, offset: 0)]
            }),
            ("min", { _, me in [me.tensor.data.min().map { .number(Double($0)) } ?? .nil] }),
            ("max", { _, me in [me.tensor.data.max().map { .number(Double($0)) } ?? .nil] }),
            ("mean", { _, me in
                [me.tensor.count == 0 ? .nil : .number(me.tensor.data.reduce(0.0) { $0 + Double($1) } / Double(me.tensor.count))]
            }),
        ], properties: [
            ("shape", { .array($0.tensor.shape.map { .int($0) }) }),
            ("rank", { .int($0.tensor.rank) }),
            ("numel", { .int($0.tensor.count) }),
        ])
    }

    static func nested(_ t: Tensor, axis: Int, offset: Int) -> LuaValue {
        if t.rank == 0 { return .number(Double(t.data[0])) }
        let stride = t.strides[axis]
        if axis == t.rank - 1 {
            return .array((0..<t.shape[axis]).map { .number(Double(t.data[offset + $0 * stride])) })
        }
        return .array((0..<t.shape[axis]).map { nested(t, axis: axis + 1, offset: offset + $0 * stride) })
    }

    /// sam2.tensor(nested table of numbers): a rectangular nested table → tensor.
    static func tensor(_ call: LuaCall) throws -> [LuaValue] {
        let v = try call.value(1)
        var shape: [Int] = []
        var probe = v
        while case let .table(t) = probe {
            shape.append(t.array.count)
            guard let first = t.array.first else { break }
            probe = first
        }
        guard !shape.isEmpty else { throw call.typeError(1, expected: "table", got: v) }
        var data: [Float] = []
        data.reserveCapacity(shape.reduce(1, *))
        func flatten(_ value: LuaValue, _ axis: Int, _ path: String) throws {
            if axis == shape.count {
                guard let d = value.double else { throw call.argumentError(1, "item \(path): number expected, got \(value.typeName)") }
                data.append(Float(d))
                return
            }
            guard case let .table(t) = value, t.array.count == shape[axis] else {
                throw call.argumentError(1, "item \(path.isEmpty ? "(top)" : path): a table of \(shape[axis]) values expected (not rectangular)")
            }
            for (i, x) in t.array.enumerated() { try flatten(x, axis + 1, path + "[\(i + 1)]") }
        }
        try flatten(v, 0, "")
        return [.object(TensorObject(Tensor(shape: shape, data: data)))]
    }

    /// sam2.npy(path): reads a .npy file.
    static func npy(_ call: LuaCall) throws -> [LuaValue] {
        [.object(TensorObject(try Npy.read(try call.string(1))))]
    }
}
