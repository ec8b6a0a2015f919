#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A status line that redraws in place on a terminal and stays quiet in logs.
///
/// On a terminal every `update` redraws the line; when stdout is a file or a
/// pipe (CI, `| tee`), only `milestone` lines are printed, one per line, so
/// logs stay readable instead of filling with carriage returns.
public struct ProgressLine: Sendable {
    public let isTerminal: Bool
    private var drawn = false

    public init(isTerminal: Bool = isatty(STDOUT_FILENO) != 0) {
        self.isTerminal = isTerminal
    }

    /// Redraws the live line (terminal only).
    public mutating func update(_ text: String) {
        guard isTerminal else { return }
        print("\r\u{1B}[2K" + text, terminator: "")
        fflush(nil)
        drawn = true
    }

    /// A line worth keeping in any log: printed above the live line on a terminal.
    public mutating func milestone(_ text: String) {
        if drawn { print("\r\u{1B}[2K", terminator: "") }
        print(text)
        fflush(nil)
        drawn = false
    }

    /// Leaves the cursor on a fresh line.
    public mutating func finish() {
        if drawn { print("") }
        drawn = false
    }
}
