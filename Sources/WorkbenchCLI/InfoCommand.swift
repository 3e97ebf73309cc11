import ArgumentParser
import Foundation
import SAM2

/// `workbench info CHECKPOINT`: what a checkpoint file holds and which official model it matches.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Summarise a checkpoint (.pt from torch.save or .safetensors): format, tensors, parameters, model config."
    )

    @Argument(help: "Path to a .pt / .pth / .safetensors checkpoint.")
    var checkpoint: String

    @Flag(help: "Also list every tensor with its dtype and shape.")
    var tensors = false

    @Flag(name: .customLong("read-all"), help: "Convert every tensor to Float32 once (checks the data, times a full load).")
    var readAll = false

    func run() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let loaded = CLI.orFail { try Checkpoint.open(checkpoint) }
        let info = CheckpointInfo(loaded)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        for line in info.lines { print(line) }
        print(String(format: "load time: %.3f s (index only; tensor data stays memory-mapped)", seconds))
        if readAll {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var sum = 0.0, nonFinite = 0
            for key in loaded.keys {
                let t = CLI.orFail { try loaded.tensor(named: key) }
                for v in t.data { if v.isFinite { sum += Double(v) } else { nonFinite += 1 } }
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            print(String(format: "read all: %.3f s, sum of finite elements %.6g, non-finite %d", dt, sum, nonFinite))
        }
        if tensors {
            for key in loaded.keys {
                guard let e = loaded.entry(key) else { continue }
                print("\(key)\t\(e.dtype)\t\(e.shape)")
            }
        }
    }
}
