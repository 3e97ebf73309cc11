import Foundation

/// A progress bar on stderr with rate and ETA. On a terminal it redraws one line (at most every `interval`
/// seconds); otherwise (logs, pipes) it prints a sparse line every 10 % or every `logInterval` seconds.
/// Thread-safe: workers may call `advance` concurrently.
public final class ProgressBar: @unchecked Sendable {
    /// Total units of work.
    public let total: Int
    /// Text before the bar.
    public let label: String
    /// Unit name shown in the rate ("frames", "items").
    public let unit: String
    private let isTTY: Bool
    private let interval: Double, logInterval: Double
    private let start: Date
    private let lock = NSLock()
    private var done = 0
    private var lastDraw = -Double.infinity
    private var lastLoggedDecile = -1
    private var finished = false
    private let write: (String) -> Void

    /// A bar for `total` units; `output` defaults to stderr (tests pass a closure to capture lines), and
    /// `isTerminal` defaults to whether stderr is a TTY.
    public init(total: Int, label: String = "", unit: String = "items", interval: Double = 0.1,
                logInterval: Double = 30, isTerminal: Bool? = nil, output: ((String) -> Void)? = nil) {
        self.total = max(0, total); self.label = label; self.unit = unit
        self.interval = interval; self.logInterval = logInterval
        self.isTTY = isTerminal ?? (isatty(2) != 0)
        self.write = output ?? { s in FileHandle.standardError.write(s.data(using: .utf8)!) }
        start = Date()
    }

    private var status = ""

    /// Text shown after the ETA (e.g. the current loss); redrawn with the next update.
    public func setStatus(_ text: String) { lock.lock(); status = text; lock.unlock() }

    /// Units done so far.
    public var completed: Int { lock.lock(); defer { lock.unlock() }; return done }

    /// Marks `n` more units done.
    public func advance(by n: Int = 1) { lock.lock(); done += n; drawLocked(force: false); lock.unlock() }

    /// Sets the number of units done.
    public func update(_ completed: Int) { lock.lock(); done = completed; drawLocked(force: false); lock.unlock() }

    /// Draws the final state and ends the line (idempotent).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        if finished { return }
        // A log that already printed the 100 % line needs no repeat.
        if isTTY || lastLoggedDecile < 10 { drawLocked(force: true) }
        if isTTY { write("\n") }
        finished = true
    }

    /// "1:02:03" / "02:03" style duration.
    public static func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
                         : String(format: "%02d:%02d", s / 60, s % 60)
    }

    private func drawLocked(force: Bool) {
        if finished { return }
        let elapsed = Date().timeIntervalSince(start)
        let clamped = min(done, total)
        let fraction = total > 0 ? Double(clamped) / Double(total) : 1
        if isTTY {
            guard force || elapsed - lastDraw >= interval else { return }
        } else {
            let decile = Int(fraction * 10)
            guard force || decile > lastLoggedDecile || elapsed - lastDraw >= logInterval else { return }
            lastLoggedDecile = decile
        }
        lastDraw = elapsed
        let rate = elapsed > 0 ? Double(clamped) / elapsed : 0
        let eta = rate > 0 ? Double(total - clamped) / rate : .infinity
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let prefix = label.isEmpty ? "" : label + " "
        let text = String(format: "%@%@ %3d%% %d/%d %.1f %@/s elapsed %@ ETA %@", prefix, bar, Int(fraction * 100),
                          clamped, total, rate, unit, ProgressBar.formatDuration(elapsed),
                          done >= total ? "00:00" : ProgressBar.formatDuration(eta)) + (status.isEmpty ? "" : "  " + status)
        write(isTTY ? "\r\u{1B}[2K" + text : text + "\n")
    }
}
