#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
/// the new ones, never half of either. One process holds a file at a time (an exclusive lock
/// on `FILE.lock` for the books' lifetime): two processes writing one file would each put
/// back what the other had booked away.
public final class LocalPrivacyBooks: Sendable {
    public let settings: LocalDifferentialPrivacy
    public let file: String?
    private let state: Mutex<State>
    /// The descriptor holding the lock on `FILE.lock`; closing it releases the lock.
    private let lock: Int32?

    /// Every client's releases, and the overview kept up to date release by release (a
    /// fleet of thousands would otherwise recompute every client's ε for each one).
    private struct State {
        var spends: [UInt64: LocalPrivacySpend]
        var overview: Overview
    }

    /// The file's shape: `{"clients": {"<id>": <LocalPrivacySpend>}}`.
    private struct Contents: Codable {
        var clients: [String: LocalPrivacySpend]
    }

    /// - Throws: `LocalPrivacyBooksError` when the file exists but cannot be read as books.
    public init(settings: LocalDifferentialPrivacy, file: String? = nil) throws(LocalPrivacyBooksError) {
        self.settings = settings
        self.file = file
        lock = try file.map(Self.lock)
        var loaded: [UInt64: LocalPrivacySpend] = [:]
        if let file, FileManager.default.fileExists(atPath: file) {
            do {
                let contents = try JSONDecoder().decode(Contents.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
                for (key, spend) in contents.clients {
                    guard let id = UInt64(key) else { throw LocalPrivacyBooksError.unreadable(file, "client id '\(key)' is not a number") }
                    loaded[id] = spend
                }
            } catch let error as LocalPrivacyBooksError {
                if let lock { close(lock) }
                throw error
            } catch {
                if let lock { close(lock) }
                throw .unreadable(file, "\(error)")
            }
        }
        if settings.unit == .update {
            // The first form of the file (update unit only) did not say who was spent.
            for (id, spend) in loaded where !spend.exhausted {
                loaded[id]?.exhausted = !spend.permits(settings.updateRelease, under: settings)
            }
        }
        var overview = Overview(largestEpsilon: 0, mostReleases: 0, clientsSpent: 0)
        for spend in loaded.values { overview.count(spend, under: settings) }
        state = Mutex(State(spends: loaded, overview: overview))
        overview.report()
    }

    /// Whether `client` may release one more update costing `release` within the target ε.
    /// The answer also corrects the client's `exhausted` mark (and the count of spent clients):
    /// a client refused is spent from then on, and one the file called spent may not be any
    /// more under a larger target. The file learns it with the next booking.
    public func permitsRelease(client: UInt64, release: LocalDifferentialPrivacy.Release) -> Bool {
        let (permitted, overview) = state.withLock { state -> (Bool, Overview?) in
            let spend = state.spends[client] ?? LocalPrivacySpend()
            let permitted = spend.permits(release, under: settings)
            guard spend.exhausted == permitted else { return (permitted, nil) }
            var after = spend
            after.exhausted = !permitted
            state.spends[client] = after
            state.overview.replace(spend, with: after, under: settings)
            return (permitted, state.overview)
        }
        overview?.report()
        return permitted
    }

    /// Books one `release` by `client`, and writes the file first when there is one. The
    /// client counts as spent at once when the same release again would not fit.
    /// - Throws: `LocalPrivacyBooksError.unwritable`: the update must then not leave.
    public func recordRelease(client: UInt64, release: LocalDifferentialPrivacy.Release) throws(LocalPrivacyBooksError) {
        let overview = try state.withLock { (state: inout State) throws(LocalPrivacyBooksError) -> Overview in
            // In place, not on a copy of every client's books: this runs once per update.
            let before = state.spends[client] ?? LocalPrivacySpend()
            var after = before
            after.record(release)
            after.exhausted = !after.permits(release, under: settings)
            state.spends[client] = after
            if let file {
                do throws(LocalPrivacyBooksError) {
                    try Self.write(state.spends, to: file)
                } catch {
                    // Not on disk, so not released: the books stay as the file has them.
                    state.spends[client] = before.total == 0 ? nil : before
                    throw error
                }
            }
            state.overview.replace(before, with: after, under: settings)
            return state.overview
        }
        overview.report()
    }

    /// ε `client` has spent so far.
    public func epsilon(client: UInt64) -> Double {
        state.withLock { ($0.spends[client] ?? LocalPrivacySpend()).epsilon(under: settings) }
    }

    /// The books in brief, for `summary.json` and the `fedq_ldp_*` gauges: the largest ε and
    /// release count of any one client, and how many clients may release nothing more.
    public var overview: Overview { state.withLock { $0.overview } }

    public struct Overview: Sendable, Equatable {
        public var largestEpsilon: Double
        public var mostReleases: Int
        public var clientsSpent: Int

        /// Adds a client's spend (a client's ε and count only grow, so maxima stay maxima).
        mutating func count(_ spend: LocalPrivacySpend, under settings: LocalDifferentialPrivacy) {
            largestEpsilon = max(largestEpsilon, spend.epsilon(under: settings))
            mostReleases = max(mostReleases, spend.total)
            if spend.exhausted { clientsSpent += 1 }
        }

        /// A client's spend grew from `before` to `after`.
        mutating func replace(_ before: LocalPrivacySpend, with after: LocalPrivacySpend, under settings: LocalDifferentialPrivacy) {
            if before.exhausted { clientsSpent -= 1 }
            count(after, under: settings)
        }

        func report() {
            PipelineMetrics.ldpEpsilon.record(largestEpsilon)
            PipelineMetrics.ldpClientsSpent.record(clientsSpent)
        }
    }

    deinit {
        if let lock { close(lock) }
    }

    /// Takes the exclusive lock on `file.lock`, without waiting.
    private static func lock(_ file: String) throws(LocalPrivacyBooksError) -> Int32 {
        let descriptor = open(file + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(file, "cannot create \(file).lock: \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw .inUse(file)
        }
        return descriptor
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
    /// Another process (or another set of books in this one) holds the file.
    case inUse(String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "--ldp-budget-file \(file) cannot be read as local privacy books: \(reason)"
        case .unwritable(let file, let reason): "--ldp-budget-file \(file) cannot be written (no update is published without it): \(reason)"
        case .inUse(let file):
            "--ldp-budget-file \(file) is in use by another process: give each process its own file (two writers would undo each other's bookings)"
        }
    }
}
