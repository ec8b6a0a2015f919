import FedqCLI
import Foundation

/// The `fedq` executable. An `async` @main (not top-level code in main.swift)
/// so `Fedq.main()` resolves to AsyncParsableCommand's async entry point;
/// at top level the synchronous one wins and every async command prints help.
@main
enum FedqMain {
    static func main() async {
        // FEDQ_* variables fill the shared options a command line leaves out.
        await Fedq.main(EnvironmentDefaults.arguments(
            Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
    }
}
