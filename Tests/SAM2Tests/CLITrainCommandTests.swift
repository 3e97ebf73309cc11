import Foundation
import XCTest
import SAM2

/// `workbench train`: typed errors for bad arguments, a short run writing its files, resuming after it stopped.
final class CLITrainCommandTests: WorkbenchCLITestCase {
    /// A tiny architecture (128² input) so a step takes a fraction of a second.
    func tinyArchitecture() throws -> String {
        let arch = SAM2Architecture(imageSize: 128, hieraEmbedDim: 8, hieraNumHeads: 1, hieraStages: [1, 1, 1, 1],
                                    hieraWindowSpec: [8, 4, 8, 4], hieraGlobalAttBlocks: [2],
                                    hieraWindowPosEmbedBkgSpatialSize: [4, 4], hiddenDim: 32, memDim: 16,
                                    memoryAttentionLayers: 1, memoryAttentionFeedforward: 64, numMaskmem: 3)
        let path = tmp.appendingPathComponent("arch.json").path
        try arch.json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testBadArgumentsAreNamed() throws {
        let arch = try tinyArchitecture(), out = tmp.appendingPathComponent("bad").path
        let cases: [([String], String)] = [
            (["--data", "synthetic:x"], "--data"),
            (["--data", "synthetic:2", "--warmup", "50"], "warmup"),
            (["--data", "synthetic:2", "--warmup", "1", "--hold", "3"], "hold: expected 0…steps − warm-up (2), got 3"),
            (["--data", "synthetic:2", "--freeze", "no_such_module"], "no_such_module"),
            (["--data", "synthetic:2", "--decay", "step"], "decay"),
            (["--data", "synthetic:2", "--lr-scale", "image_encoder=0"], "--lr-scale"),
            (["--data", "synthetic:2", "--lr-scale", "no_such_prefix=0.5"], "no_such_prefix"),
            (["--data", "synthetic:2", "--scale-parameters", "memory_attention.*.q_proj.bias"], "--scale-parameters"),
            (["--data", "synthetic:2", "--scale-parameters", "nowhere.*=0.5"], "nowhere.*"),
            (["--data", "synthetic:2", "--reappearance-fraction", "1.5"], "reappearance fraction"),
        ]
        for (extra, needle) in cases {
            let r = try workbench(["train", "--model", arch, "--steps", "3", "--out", out] + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(needle), "\(extra): \(r.stderr)")
        }
        let missing = try workbench(["train", "--model", tmp.appendingPathComponent("nope.json").path, "--data", "synthetic:1",
                                     "--steps", "1", "--out", out])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.json"), missing.stderr)
    }

    func testShortRunWritesItsFilesAndResumes() throws {
        let arch = try tinyArchitecture(), out = tmp.appendingPathComponent("run").path
        let common = ["train", "--model", arch, "--data", "synthetic:2:3", "--out", out, "--warmup", "1", "--clip-length", "3",
                      "--max-objects", "2", "--correction-clicks", "1", "--checkpoint-every", "2", "--val-videos", "1",
                      "--val-frames", "6", "--synthetic-frames", "16"]
        let first = try workbench(common + ["--steps", "3"])
        XCTAssertEqual(first.status, 0, first.stderr)
        for f in ["train_log.csv", "validation.csv", "checkpoint.safetensors", "model.safetensors", "loss_curve.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let log = try String(contentsOfFile: out + "/train_log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 4)
        XCTAssertTrue(log[1].hasPrefix("1,"))
        let validation = try String(contentsOfFile: out + "/validation.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(validation.count, 3)                         // header + 3 memories + 1 memory
        for row in validation.dropFirst() {
            let jf = Double(row.split(separator: ",").last!)!
            XCTAssertTrue((0...1).contains(jf), String(row))
        }
        // The model loads for inference with no size or trunk options (the architecture is in its metadata).
        let model = try SAM2VideoModel(checkpoint: out + "/model.safetensors")
        XCTAssertEqual(model.imageSize, 128)
        XCTAssertEqual(try Checkpoint.open(out + "/checkpoint.safetensors").metadata["step"], "3")
        // Same command with more steps (and the peak rate held 2 steps after warm-up): resumes at step 3 and appends.
        let second = try workbench(common + ["--steps", "5", "--hold", "2"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("resuming at step 3"), second.stdout)
        let log2 = try String(contentsOfFile: out + "/train_log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log2.count, 6)
        XCTAssertTrue(log2.count > 4 && log2[4].hasPrefix("4,"), "\(log2)")
        // Step 4 is the last held one (1 warm-up + 2 held + 2 decaying): the peak 1e-3, where no hold gives 5.05e-4.
        let rates = log2.dropFirst().map { Double($0.split(separator: ",")[1]) ?? -1 }
        XCTAssertEqual(rates[3], 1e-3, accuracy: 1e-9, "\(log2)")
        XCTAssertEqual(rates[4], 5.05e-4, accuracy: 1e-9, "\(log2)")
        // Another run's options (a different seed) are refused, naming the option, instead of continuing this run.
        let other = try workbench(common + ["--steps", "5", "--seed", "9"])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.stderr.contains("seed") && other.stderr.contains("--no-resume"), other.stderr)
    }
}
