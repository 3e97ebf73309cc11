import Foundation

/// Linear warm-up (step s gets peak·(s + 1)/warmupSteps) up to `peak` over `warmupSteps`, `peak` for `holdSteps` more, then cosine or
/// linear decay to `final` at `totalSteps` (held there afterwards). Steps count from 0.
public struct LearningRateSchedule: Sendable, Equatable {
    /// Shape of the decay after warm-up.
    public enum Decay: String, Sendable, Equatable { case cosine, linear }

    /// Rate reached at the end of warm-up.
    public var peak: Float
    /// Rate at `totalSteps` and after.
    public var final: Float
    /// Steps of linear warm-up (0 starts at `peak`).
    public var warmupSteps: Int
    /// Steps at `peak` after warm-up, before the decay starts (from scratch the model learns to track only while the rate is high).
    public var holdSteps: Int
    /// Steps until the decay reaches `final`.
    public var totalSteps: Int
    /// Cosine or linear decay.
    public var decay: Decay

    /// A schedule; `totalSteps` must be at least `warmupSteps + holdSteps`.
    public init(peak: Float, final: Float = 0, warmupSteps: Int, holdSteps: Int = 0, totalSteps: Int, decay: Decay = .cosine) {
        precondition(warmupSteps >= 0 && holdSteps >= 0 && totalSteps >= warmupSteps + holdSteps,
                     "LearningRateSchedule: warm-up \(warmupSteps) + hold \(holdSteps) > total \(totalSteps)")
        self.peak = peak
        self.final = final
        self.warmupSteps = warmupSteps
        self.holdSteps = holdSteps
        self.totalSteps = totalSteps
        self.decay = decay
    }

    /// Learning rate for optimiser step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let start = warmupSteps + holdSteps, span = totalSteps - start
        if step >= totalSteps { return final }
        if step < start { return peak }   // here start <= step < totalSteps, so span > 0
        let t = Double(step - start) / Double(span)
        let w = decay == .cosine ? 0.5 * (1 + cos(Double.pi * t)) : 1 - t
        return final + (peak - final) * Float(w)
    }
}
