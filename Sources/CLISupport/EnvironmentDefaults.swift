import Foundation

/// Fills the shared options from `FEDQ_<FLAG>` environment variables (`FEDQ_BROKER`,
/// `FEDQ_MAX_STALENESS`, …) for the commands that take them, the way containers are
/// configured; a flag on the command line wins over the environment.
public enum EnvironmentDefaults {
    /// Commands whose options include `SharedOptions`.
    public static let commands: Set<String> = ["simulate", "coordinator", "worker", "fleet", "client", "eval"]
    /// Commands that run clients, whose options include `LocalPrivacyOptions`.
    public static let clientCommands: Set<String> = ["simulate", "fleet", "client"]

    /// `arguments` (without the program name) with a flag appended for each variable set
    /// whose flag is not already given. A boolean flag is set by `1`, `true` or `yes`.
    public static func arguments(_ arguments: [String], environment: [String: String]) -> [String] {
        guard let command = arguments.first, commands.contains(command) else { return arguments }
        // Flags after a `--` terminator are positional arguments, not options.
        let end = arguments.firstIndex(of: "--") ?? arguments.count
        let given = arguments[..<end]
        var added: [String] = []
        // Local DP is the clients' own: `FEDQ_LDP_*` fills only the commands that run clients,
        // so one environment can serve every role of a deployment.
        let flags = SharedOptions.environmentFlags + (clientCommands.contains(command) ? LocalPrivacyOptions.environmentFlags : [])
        for flag in flags {
            let variable = "FEDQ_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let value = environment[variable], !value.isEmpty else { continue }
            guard !given.contains(where: { $0 == "--\(flag)" || $0.hasPrefix("--\(flag)=") }) else { continue }
            if flag == "weigh-by-samples" {
                if ["1", "true", "yes"].contains(value.lowercased()) { added.append("--\(flag)") }
            } else {
                added += ["--\(flag)", value]
            }
        }
        var result = arguments
        result.insert(contentsOf: added, at: end)
        return result
    }
}

extension EnvironmentDefaults {
    /// `--broker` if given, else `FEDQ_BROKER`, else nil. Read when the command runs, never
    /// as an option's default: a default is printed by `--help`, and the URL may hold a password.
    public static func broker(_ option: String?) -> String? {
        if let option, !option.isEmpty { return option }
        if let variable = ProcessInfo.processInfo.environment["FEDQ_BROKER"], !variable.isEmpty { return variable }
        return nil
    }

    /// `--broker-password-file` if given, else `FEDQ_BROKER_PASSWORD_FILE`, else nil (for the
    /// commands outside `commands`, such as `fedq topology`).
    public static func brokerPasswordFile(_ option: String?) -> String? {
        if let option, !option.isEmpty { return option }
        if let variable = ProcessInfo.processInfo.environment["FEDQ_BROKER_PASSWORD_FILE"], !variable.isEmpty { return variable }
        return nil
    }
}
