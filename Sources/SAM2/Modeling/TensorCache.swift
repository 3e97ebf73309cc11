import Foundation

/// A thread-safe memo of tensors keyed by sizes (e.g. a positional encoding per grid size); a reference type so
/// copies of a module share it, as the official modules share their `cache` dict.
final class TensorCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[Int]: Tensor] = [:]

    func get(_ key: [Int]) -> Tensor? { lock.withLock { entries[key] } }
    func set(_ key: [Int], _ t: Tensor) { lock.withLock { entries[key] = t } }
}
