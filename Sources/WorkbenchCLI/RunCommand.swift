import ArgumentParser
import Foundation
import Workbench

/// `workbench run SCRIPT.lua [args…]` or `workbench run -e 'lua code'`: runs Lua with the workbench libraries.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script (or -e code) with the sam2, metrics, synth and workbench libraries.",
        discussion: """
        The script sees its arguments in `arg` (arg[0] = script) and as `...`. `require` searches the script's
        folder, then $SAM2_WORKBENCH_PATH (folders separated by ';' or ':'), then the project's Scripts/.
        On error the exit code is 1 and stderr holds "file:line: message" and a traceback.
        """
    )

    @Option(name: .customShort("e"), help: "Lua code to run instead of a script (may be repeated; runs before the script).")
    var code: [String] = []

    @Argument(help: "Script file, then its arguments.")
    var script: String?

    @Argument(parsing: .captureForPassthrough, help: "Arguments passed to the script.")
    var arguments: [String] = []

    func validate() throws {
        if code.isEmpty && script == nil { throw ValidationError("give a script file or -e 'code'") }
    }

    func run() throws {
        let state: LuaState
        do { state = try LuaState() } catch { fail("\(error)") }
        defer { state.close() }
        do {
            for (i, chunk) in code.enumerated() {
                state.setArg(script: "-e", arguments: [script].compactMap { $0 } + arguments)
                try state.execute(chunk, chunkName: code.count == 1 ? "=(command line)" : "=(command line \(i + 1))")
            }
            if let script { try state.run(file: script, arguments: arguments) }
        } catch {
            fail("\(error)")
        }
    }

    private func fail(_ message: String) -> Never {
        fflush(stdout)
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(1)
    }
}
