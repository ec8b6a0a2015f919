import Foundation
import Privacy
import Synchronization

/// What each client of this process has released under local differential privacy, and
/// whether it may release more (`--ldp-target-epsilon`). The client keeps these books
/// itself, because local DP trusts nobody else to: not the broker, not the coordinator.
///
/// With a file (`--ldp-budget-file`), the books are read at start and written **before**
/// each update leaves (an update whose publish then fails was counted anyway: the budget errs
/// towards spent), so a client restarted, or killed, does not get its budget back. The file
/// is replaced whole (write, then rename over the old one): a crash leaves the old books or
/// the new ones, never half of either.
public final class LocalPrivacyBooks: Sendable {
    public let settings: LocalDifferentialPrivacy
    public let file: String?
    private let spends: Mutex<[UInt64: LocalPrivacySpend]>

    /// The file's shape: `{"clients": {"<id>": [{"noise_multiplier": σ, "releases": n}]}}`.
    private struct Contents: Codable {
        var clients: [String: LocalPrivacySpend]
    }

    /// - Throws: `LocalPrivacyBooksError` when the file exists but cannot be read as books.
    public init(settings: LocalDifferentialPrivacy, file: String? = nil) throws(LocalPrivacyBooksError) {
        self.settings = settings
        self.file = file
        var loaded: [UInt64: LocalPrivacySpend] = [:]
        if let file, FileManager.default.fileExists(atPath: file) {
            do {
                let contents = try JSONDecoder().decode(Contents.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
                for (key, spend) in contents.clients {
                    guard let id = UInt64(key) else { throw LocalPrivacyBooksError.unreadable(file, "client id '\(key)' is not a number") }
                    loaded[id] = spend
                }
            } catch let error as LocalPrivacyBooksError {
                throw error
            } catch {
                throw .unreadable(file, "\(error)")
            }
        }
        spends = Mutex(loaded)
    }

    /// Whether `client` may release one more update within the target ε.
    public func permitsRelease(client: UInt64) -> Bool {
        spends.withLock { ($0[client] ?? LocalPrivacySpend()).permitsRelease(under: settings) }
    }

    /// Books one release by `client`, and writes the file first when there is one.
    /// - Throws: `LocalPrivacyBooksError.unwritable`: the update must then not leave.
    public func recordRelease(client: UInt64) throws(LocalPrivacyBooksError) {
        try spends.withLock { (spends: inout [UInt64: LocalPrivacySpend]) throws(LocalPrivacyBooksError) in
            var next = spends
            next[client, default: LocalPrivacySpend()].record(noiseMultiplier: settings.noiseMultiplier)
            if let file { try Self.write(next, to: file) }
            spends = next
        }
    }

    /// ε `client` has spent so far.
    public func epsilon(client: UInt64) -> Double {
        spends.withLock { ($0[client] ?? LocalPrivacySpend()).epsilon(under: settings) }
    }

    /// The books in brief, for `summary.json`: the largest ε and release count of any one
    /// client, and how many clients may release nothing more.
    public var overview: Overview {
        spends.withLock { spends in
            Overview(
                largestEpsilon: spends.values.map { $0.epsilon(under: settings) }.max() ?? 0,
                mostReleases: spends.values.map(\.total).max() ?? 0,
                clientsSpent: spends.values.filter { !$0.permitsRelease(under: settings) }.count)
        }
    }

    public struct Overview: Sendable, Equatable {
        public var largestEpsilon: Double
        public var mostReleases: Int
        public var clientsSpent: Int
    }

    private static func write(_ spends: [UInt64: LocalPrivacySpend], to file: String) throws(LocalPrivacyBooksError) {
        let contents = Contents(clients: Dictionary(uniqueKeysWithValues: spends.map { (String($0.key), $0.value) }))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            // `.atomic` writes a temporary file and renames it over the old one.
            try encoder.encode(contents).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            throw .unwritable(file, "\(error.localizedDescription)")
        }
    }
}

/// Why a client's local privacy books cannot be used; the process stops rather than
/// publish without knowing what it has spent.
public enum LocalPrivacyBooksError: Error, Equatable, CustomStringConvertible {
    case unreadable(String, String)
    case unwritable(String, String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "--ldp-budget-file \(file) cannot be read as local privacy books: \(reason)"
        case .unwritable(let file, let reason): "--ldp-budget-file \(file) cannot be written (no update is published without it): \(reason)"
        }
    }
}
