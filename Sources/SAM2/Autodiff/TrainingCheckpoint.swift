import Foundation

/// A training checkpoint in one .safetensors file: the named parameters (`<name>`, loadable as a model state dict),
/// AdamW's moments (`optimizer.exp_avg.<name>`, `optimizer.exp_avg_sq.<name>`) and, in the metadata, the global step,
/// each parameter's optimiser step count and the optimiser's settings. Written to a temporary file and renamed, so an
/// interruption while saving leaves the previous checkpoint intact.
public enum TrainingCheckpoint {
    /// Metadata key naming this layout.
    public static let formatKey = "sam2_workbench_training"
    public static let formatVersion = "1"

    /// Writes `parameters` and `optimizer`'s state at global step `step` to `path`; `metadata` and `extra` tensors
    /// (e.g. a moving average of the weights, under their own key prefix) are stored alongside.
    public static func save(to path: String, parameters: [String: Variable], optimizer: AdamW, step: Int,
                            metadata: [String: String] = [:], extra: [String: Tensor] = [:]) throws {
        var tensors = extra
        var meta = metadata
        meta[formatKey] = formatVersion
        meta["step"] = String(step)
        meta["optimizer"] = "AdamW lr=\(optimizer.learningRate) betas=\(optimizer.betas.0),\(optimizer.betas.1) eps=\(optimizer.eps) weight_decay=\(optimizer.weightDecay)"
        for (name, p) in parameters {
            tensors[name] = p.value
            if let s = optimizer.state(of: p) {
                tensors["optimizer.exp_avg.\(name)"] = s.expAvg
                tensors["optimizer.exp_avg_sq.\(name)"] = s.expAvgSq
                meta["optimizer.step.\(name)"] = String(s.step)
            }
        }
        let partial = path + ".partial"
        try SafeTensors.write(tensors, metadata: meta, to: partial)
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: partial, toPath: path)
        } catch {
            throw CheckpointError.writeFailed(path: path, reason: "cannot move \(partial) into place: \(error.localizedDescription)")
        }
    }

    /// Loads the parameter values and optimiser state saved at `path` into `parameters` and `optimizer`; returns the
    /// global step. Every parameter must be present with its shape (typed errors name the file and the key).
    @discardableResult
    public static func load(from path: String, parameters: [String: Variable], optimizer: AdamW) throws -> Int {
        try load(from: path, parameters: parameters, optimizer: optimizer, extra: [:]).step
    }

    /// `load`, also reading the `extra` tensors `save` stored (names and expected shapes) in the same pass: each
    /// must be present with its shape, and nothing changes unless everything reads.
    public static func load(from path: String, parameters: [String: Variable], optimizer: AdamW,
                            extra: [String: [Int]]) throws -> (step: Int, extra: [String: Tensor]) {
        let file = try SafeTensors.read(path)
        guard file.metadata[formatKey] != nil else {
            throw CheckpointError.badHeader(path: path, reason: "not a training checkpoint (no \(formatKey) metadata)")
        }
        guard let stepText = file.metadata["step"], let step = Int(stepText), step >= 0 else {
            throw CheckpointError.badHeader(path: path, reason: "metadata \"step\" must be a non-negative integer, got \(file.metadata["step"] ?? "nothing")")
        }
        // Read everything first, so a bad file changes nothing.
        var values: [(Variable, Tensor, (Int, Tensor, Tensor)?)] = []
        for (name, p) in parameters.sorted(by: { $0.key < $1.key }) {
            guard file.contains(name) else { throw CheckpointError.missingKey(path: path, key: name) }
            let value = try file.tensor(named: name, expectShape: p.value.shape)
            var state: (Int, Tensor, Tensor)? = nil
            if let t = file.metadata["optimizer.step.\(name)"] {
                guard let s = Int(t), s >= 0 else {
                    throw CheckpointError.badHeader(path: path, reason: "metadata \"optimizer.step.\(name)\" must be a non-negative integer, got \(t)")
                }
                for key in ["optimizer.exp_avg.\(name)", "optimizer.exp_avg_sq.\(name)"] where !file.contains(key) {
                    throw CheckpointError.missingKey(path: path, key: key)
                }
                state = (s, try file.tensor(named: "optimizer.exp_avg.\(name)", expectShape: p.value.shape),
                         try file.tensor(named: "optimizer.exp_avg_sq.\(name)", expectShape: p.value.shape))
            }
            values.append((p, value, state))
        }
        let extras = try Dictionary(uniqueKeysWithValues: extra.map { name, shape in
            guard file.contains(name) else { throw CheckpointError.missingKey(path: path, key: name) }
            return (name, try file.tensor(named: name, expectShape: shape))
        })
        for (p, value, state) in values {
            p.value = value
            if let (s, m, v) = state { optimizer.setState(of: p, step: s, expAvg: m, expAvgSq: v) }
        }
        return (step, extras)
    }
}
