import Foundation

/// Write-once slots filled from parallel workers; each index is written by exactly one worker.
final class ResultBox<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    /// All slots; the caller has set every one (Parallel.forEach returns after all workers finish).
    var values: [T] { slots.map { $0! } }
}
