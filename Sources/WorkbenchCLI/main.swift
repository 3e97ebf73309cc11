import ArgumentParser
import SAM2
import Workbench

struct WorkbenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "SAM 2 in Swift: native model, checkpoint tools and a Lua experiment workbench.",
        subcommands: [InfoCommand.self, SegmentCommand.self, EverythingCommand.self, EvalCommand.self,
                      SynthCommand.self, RunCommand.self, ReplCommand.self, BenchCommand.self,
                      TrackCommand.self, VosCommand.self, TrainCommand.self]
    )
}

WorkbenchCommand.main()
