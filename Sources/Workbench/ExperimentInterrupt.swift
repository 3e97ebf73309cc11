import Foundation

/// Ctrl-C during an experiment: the SIGINT handler only sets a flag, which the runner checks between cells
/// (a cell is never cut in half, so everything finished is on disk); a second Ctrl-C quits at once with 130.
public enum ExperimentInterrupt {
    /// Set by the handler; read between cells. A plain C-sized flag: the handler may only do async-signal-safe work.
    nonisolated(unsafe) static var flag: sig_atomic_t = 0

    /// Whether an interrupt was requested since the last `reset`.
    public static var requested: Bool { flag != 0 }

    /// Requests an interrupt (what the handler does; also for tests and for scripts' own stop conditions).
    public static func request() { flag = 1 }

    /// Clears the flag (at the start of an experiment).
    public static func reset() { flag = 0 }

    /// Installs the handler; returns the previous one for `restore`.
    static func install() -> sighandler_t? {
        signal(SIGINT) { _ in
            if ExperimentInterrupt.flag != 0 { _exit(130) }
            ExperimentInterrupt.flag = 1
            let message: StaticString = "\ninterrupt: finishing the current cell, then writing the summary (Ctrl-C again to quit now)\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
        }
    }

    /// Puts back the handler `install` replaced.
    static func restore(_ previous: sighandler_t?) {
        signal(SIGINT, previous ?? SIG_DFL)
    }
}
