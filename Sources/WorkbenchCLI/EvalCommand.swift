import ArgumentParser
import Foundation
import SAM2

/// `workbench eval --gt DIR --pred DIR`: DAVIS J&F of a folder of predicted masks against ground truth.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "J&F (DAVIS 2017 protocol) of predicted masks against ground truth.",
        discussion: """
        Both folders hold <sequence>/<frame>.png palette PNGs (index = object id, DAVIS layout), or with
        --per-object <sequence>/<object>/<frame>.png binary PNGs (SA-V layout). The first and last annotated
        frames are not scored; a missing prediction counts as an empty mask; predicted ids the ground truth
        does not have are ignored.
        The J&F-Mean comes with a 95% bootstrap interval over sequences (objects of one video are not independent);
        --baseline scores a second prediction folder and gives the difference with a paired interval (the same
        resampled sequences for both), the way to tell whether one model or setting beats another on this set.
        """
    )

    @Option(help: "Ground-truth folder.")
    var gt: String

    @Option(help: "Prediction folder (same layout as --gt).")
    var pred: String

    @Flag(name: .customLong("per-object"), help: "SA-V layout: one folder of binary PNGs per object.")
    var perObject = false

    @Option(help: "Comma-separated sequences to evaluate (default: every sequence folder of --gt).")
    var sequences: String?

    @Option(help: "A second prediction folder (same layout) to compare with: prints its J&F-Mean and the difference with a paired bootstrap interval.")
    var baseline: String?

    @Option(help: "Bootstrap resamples of the sequences for the intervals (0: none).")
    var resamples: Int = 2000

    @Option(help: "Write all results (global, per sequence, per object, per frame) as JSON to this file.")
    var json: String?

    @Option(help: "Write the per-object table and the global line as CSV to this file.")
    var csv: String?

    func validate() throws {
        if resamples < 0 { throw ValidationError("--resamples must be ≥ 0, got \(resamples)") }
    }

    /// Scores one prediction folder with a progress bar.
    private func evaluate(_ predictions: String, sequences names: [String]?, label: String) -> EvaluationResult {
        let evaluation = VOSEvaluation(groundTruth: gt, predictions: predictions, layout: perObject ? .perObject : .palette,
                                       sequences: names)
        var bar: ProgressBar?
        defer { bar?.finish() }
        do {
            return try evaluation.run { done, total in
                if bar == nil { bar = ProgressBar(total: total, label: label, unit: "frames") }
                bar?.update(done)
            }
        }
        catch let error as EvaluationError { CLI.fail(error.description) }
        catch { CLI.fail("\(error)") }
    }

    func run() throws {
        let names = sequences.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = evaluate(pred, sequences: names, label: "eval")
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        print(pad("Sequence", 28) + pad("Object", 10) + pad("J&F", 9) + pad("J-Mean", 9) + "F-Mean")
        for s in result.sequences {
            for o in s.objects {
                print(pad(s.name, 28) + pad(o.object, 10) + pad(fmt(o.jAndF), 9) + pad(fmt(o.jStatistics.mean), 9) + fmt(o.fStatistics.mean))
            }
            if s.objects.count > 1 {
                print(pad(s.name, 28) + pad("(mean)", 10) + pad(fmt(s.jAndF), 9) + pad(fmt(s.jMean), 9) + fmt(s.fMean))
            }
        }
        print("")
        print(result.global.columns.map { pad($0.0, 10) }.joined())
        print(result.global.columns.map { pad(fmt($0.1), 10) }.joined())
        let objects = result.objects.count
        print(String(format: "%d sequences, %d objects, %d frame pairs in %.2f s", result.sequences.count, objects, result.framePairs, seconds))
        warnMissing(result, pred)
        var intervals: [String: BootstrapInterval] = [:]
        do {
            if resamples > 0 {
                let interval = try result.jAndFInterval(resamples: resamples)
                intervals["J&F-Mean"] = interval
                print("J&F-Mean \(interval.summary)")
            }
            if let baseline {
                let base = evaluate(baseline, sequences: names, label: "baseline")
                warnMissing(base, baseline)
                print(String(format: "baseline J&F-Mean %.3f (%@)", base.global.jAndFMean, baseline))
                if resamples > 0 {
                    let difference = try result.jAndFDifference(from: base, resamples: resamples)
                    intervals["J&F-Mean difference from baseline"] = difference
                    print("J&F-Mean difference (predictions − baseline, paired) \(difference.summary)")
                } else {
                    print(String(format: "J&F-Mean difference (predictions − baseline) %.3f", result.global.jAndFMean - base.global.jAndFMean))
                }
            }
        } catch let error as BootstrapError { CLI.fail(error.description) }
        do {
            if let path = json { try result.jsonData(intervals: intervals).write(to: URL(fileURLWithPath: path)) }
            if let path = csv { try result.csv.write(toFile: path, atomically: true, encoding: .utf8) }
        } catch {
            CLI.fail("cannot write results: \(error.localizedDescription)")
        }
    }

    private func warnMissing(_ result: EvaluationResult, _ folder: String) {
        guard !result.missingPredictions.isEmpty else { return }
        let shown = result.missingPredictions.prefix(3).joined(separator: ", ")
        CLI.warn("\(folder): \(result.missingPredictions.count) prediction file(s) missing, scored as empty masks: \(shown)\(result.missingPredictions.count > 3 ? ", …" : "")")
    }

    private func fmt(_ v: Double) -> String { v.isNaN ? "nan" : String(format: "%.3f", v) }
    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
