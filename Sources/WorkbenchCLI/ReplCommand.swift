import ArgumentParser
import Foundation
import Workbench

/// `workbench repl`: interactive Lua with line editing, history and completion (plain lines when piped).
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Interactive Lua with the workbench libraries (libedit line editing, history, tab completion).",
        discussion: """
        Expressions print their values (tables nested, masks as area and bbox, tensors as shape and first values).
        History is kept in ~/.sam2_workbench_history. When stdin is not a terminal, lines are read plainly
        without prompts and the exit code is 1 if any chunk failed.
        """
    )

    func run() throws {
        let state: LuaState
        do { state = try LuaState() } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        defer { state.close() }
        let interactive = isatty(0) != 0
        let failures = Repl(state: state).run(interactive: interactive)
        if !interactive && failures > 0 { throw ExitCode.failure }
    }
}
