import Foundation

/// The DAVIS toolkit's `db_statistics` of one object's per-frame J or F: mean, recall and decay.
public struct MetricStatistics: Equatable, Sendable, Codable {
    /// Mean over frames (NaN for no frames).
    public var mean: Double
    /// Fraction of frames scoring above 0.5.
    public var recall: Double
    /// Mean of the first quarter of the frames minus mean of the last quarter (performance loss over time).
    public var decay: Double

    /// Statistics of `values` (frames in order). NaN values are skipped in the means as `np.nanmean` does.
    /// Decay uses the toolkit's 4 bins: edges ids_k = round(linspace(1, n, 5)_k) − 1 (ties up), bin k =
    /// values[ids_k … ids_{k+1}] inclusive, so adjacent bins share their edge frame. (The toolkit stores the edges
    /// as uint8, which wraps for sequences beyond 256 frames; here they do not wrap.)
    public init(_ values: [Double]) {
        mean = MetricStatistics.nanMean(values[...])
        recall = values.isEmpty ? .nan : Double(values.filter { $0 > 0.5 }.count) / Double(values.count)
        let n = values.count
        guard n > 0 else { decay = .nan; return }
        let step = Double(n - 1) / 4
        let ids = (0...4).map { k -> Int in
            let edge = k == 4 ? Double(n) : Double(k) * step + 1  // numpy's linspace pins the last point to `stop`
            return Int((edge + 1e-10).rounded()) - 1
        }
        let first = values[ids[0]...min(n - 1, ids[1])]
        let last = values[ids[3]...min(n - 1, ids[4])]
        decay = MetricStatistics.nanMean(first) - MetricStatistics.nanMean(last)
    }

    /// Explicit values (for decoding stored results).
    public init(mean: Double, recall: Double, decay: Double) {
        self.mean = mean; self.recall = recall; self.decay = decay
    }

    static func nanMean(_ values: ArraySlice<Double>) -> Double {
        var sum = 0.0, count = 0
        for v in values where !v.isNaN { sum += v; count += 1 }
        return count == 0 ? .nan : sum / Double(count)
    }
}
