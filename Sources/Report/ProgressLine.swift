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

    /// A bar such as `[#########···········]  45%` for the live line.
    public static func bar(_ fraction: Double, width: Int = 20) -> String {
        let clamped = min(1, max(0, fraction.isFinite ? fraction : 0))
        let filled = Int((clamped * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "·", count: width - filled) + "]"
            + String(format: " %3.0f%%", clamped * 100)
    }

    /// Leaves the cursor on a fresh line.
    public mutating func finish() {
        if drawn { print("") }
        drawn = false
    }
}
