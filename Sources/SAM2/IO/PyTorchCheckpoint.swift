import Foundation

/// Reader for `torch.save` files: a zip archive holding `<archive>/data.pkl` and one stored member per storage.
public enum PyTorchCheckpoint {
    /// Reads the state dict of a .pt file (the "model" / "state_dict" entry if present, else the top-level dict).
    public static func read(_ path: String) throws -> Checkpoint { try read(try MappedFile(path: path)) }

    /// Reads the state dict from an already mapped file.
    public static func read(_ file: MappedFile) throws -> Checkpoint {
        let path = file.path
        let zip = try ZipArchive(file: file)
        // torch.save names the top folder after the file stem, so find data.pkl wherever it is one level down.
        guard let pkl = zip.entries.first(where: { $0.name.hasSuffix("/data.pkl") && $0.name.dropLast(9).firstIndex(of: "/") == nil })
                ?? zip.entries.first(where: { $0.name == "data.pkl" }) else {
            throw CheckpointError.missingEntry(path: path, entry: "<archive>/data.pkl")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        let pklEntry = try zip.entry(pkl.name)
        if zip.contains(prefix + "byteorder") {
            let e = try zip.entry(prefix + "byteorder")
            let order = String(decoding: file.bytes(offset: e.dataOffset, length: e.size) ?? [], as: UTF8.self)
            guard order.hasPrefix("little") else {
                throw CheckpointError.unknownFormat(path: path, reason: "storages are \(order)-endian; only little-endian is supported")
            }
        }
        guard let program = file.bytes(offset: pklEntry.dataOffset, length: pklEntry.size) else {
            throw CheckpointError.truncated(path: path, reason: "data.pkl runs past the end of the file")
        }

        let unpickler = Unpickler(path: path, persistentLoad: { pid in
            try loadStorage(pid, zip: zip, prefix: prefix, path: path)
        }, reduce: { module, name, args in
            try rebuild(module, name, args, path: path)
        })
        let root = try unpickler.load(program)

        guard case let .dict(top) = root else { throw CheckpointError.noStateDict(path: path) }
        var stateDict = top
        for key in ["model", "state_dict"] {
            if case let .dict(d)? = top[key] { stateDict = d; break }
        }
        var entries: [TensorEntry] = []
        collect(stateDict, prefix: "", into: &entries)
        guard !entries.isEmpty else { throw CheckpointError.noStateDict(path: path) }
        var metadata: [String: String] = [:]
        for (k, v) in top.items {
            guard let key = k.stringValue else { continue }
            switch v {
            case let .int(i): metadata[key] = String(i)
            case let .float(f): metadata[key] = String(f)
            case let .bool(b): metadata[key] = String(b)
            case let .string(s): metadata[key] = s
            default: break
            }
        }
        return try Checkpoint(path: path, format: .pytorch, file: file, entries: entries, metadata: metadata)
    }

    /// A storage member of the archive, with the element type its pickled class declares.
    struct Storage {
        let dtype: CheckpointDType
        let key: String
        let byteOffset: Int
        let byteCount: Int
    }

    /// A tensor view rebuilt from the pickle, named later when the state dict is walked.
    struct PendingTensor {
        let storage: Storage
        let dtype: CheckpointDType
        let storageOffset: Int
        let shape: [Int]
        let strides: [Int]
    }

    /// Flattens tensors of (possibly nested) dicts into entries; nested keys are joined with ".".
    private static func collect(_ dict: PickleDict, prefix: String, into entries: inout [TensorEntry]) {
        for (k, v) in dict.items {
            guard let key = k.stringValue ?? k.intValue.map(String.init) else { continue }
            switch v {
            case let .custom(t as PendingTensor):
                entries.append(TensorEntry(name: prefix + key, dtype: t.dtype, shape: t.shape, strides: t.strides,
                                           storageOffset: t.storageOffset, storageByteOffset: t.storage.byteOffset,
                                           storageByteCount: t.storage.byteCount))
            case let .dict(inner):
                collect(inner, prefix: prefix + key + ".", into: &entries)
            default:
                continue  // non-tensor values (e.g. `_extra_state`) are not weights
            }
        }
    }

    /// BINPERSID hook: `('storage', storage_type, key, location, numel)` → the member `<archive>/data/<key>`.
    private static func loadStorage(_ pid: PickleValue, zip: ZipArchive, prefix: String, path: String) throws -> PickleValue {
        guard let t = pid.sequence, t.count >= 3, t[0].stringValue == "storage",
              case let .global(_, typeName) = t[1], let key = t[2].stringValue ?? t[2].intValue.map(String.init) else {
            return .custom(pid)  // not a torch storage id: keep it opaque so non-tensor parts still load
        }
        let member = try zip.entry(prefix + "data/" + key)
        let dtype: CheckpointDType = typeName == "UntypedStorage" ? .uint8 : CheckpointDType(storageClass: typeName)
        return .custom(Storage(dtype: dtype, key: key, byteOffset: member.dataOffset, byteCount: member.size))
    }

    /// REDUCE hook for the torch functions that rebuild tensors and parameters; nil keeps other calls opaque.
    private static func rebuild(_ module: String, _ name: String, _ args: PickleValue, path: String) throws -> PickleValue? {
        let a = args.sequence ?? []
        func bad(_ reason: String) -> CheckpointError { .malformedTensor(path: path, key: "\(module).\(name)", reason: reason) }
        func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
            guard let s = v.sequence else { throw bad("\(what) is not a tuple") }
            return try s.map { guard let i = $0.intValue else { throw bad("\(what) has a non-integer") }; return i }
        }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v3"):
            guard a.count >= 4 else { throw bad("expected at least 4 arguments, got \(a.count)") }
            guard case let .custom(s as Storage) = a[0] else { throw bad("first argument is not a storage") }
            guard let offset = a[1].intValue else { throw bad("storage offset is not an integer") }
            let shape = try ints(a[2], "size"), strides = try ints(a[3], "stride")
            guard shape.count == strides.count else { throw bad("size \(shape) and stride \(strides) differ in rank") }
            var dtype = s.dtype
            if name == "_rebuild_tensor_v3" {
                guard a.count >= 7, case let .global(_, dtypeName) = a[6] else { throw bad("missing dtype argument") }
                dtype = CheckpointDType(torchName: dtypeName)
            }
            return .custom(PendingTensor(storage: s, dtype: dtype, storageOffset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = a.first else { throw bad("missing data argument") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"):
            // (func, new_type, args, state): a Tensor subclass; its data comes from func(*args).
            guard a.count >= 3, case let .global(m, n) = a[0] else { throw bad("unexpected arguments") }
            return try rebuild(m, n, a[2], path: path)
        default:
            return nil
        }
    }
}
