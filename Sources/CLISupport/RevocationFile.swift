import Foundation
import Logging
import Trust

/// `--revoked FILE`: a worker's revocation list (`RevocationList`), read when it starts (a
/// file that cannot be read or parsed ends it with one line) and again whenever the file's
/// bytes change, so an operator revokes a credential by editing one file, without a
/// restart. A change that no longer parses is logged and the list before it stays in
/// force: a typo must not readmit anyone, nor stop the worker.
public enum RevocationFile {
    /// - Throws: `TrustError.keyFile` naming the path, and the line for a parse error.
    public static func read(at path: String) throws(TrustError) -> RevocationList {
        try parse(try text(at: path), path: path)
    }

    /// The file's text. - Throws: `TrustError.keyFile` when it cannot be read as UTF-8.
    public static func text(at path: String) throws(TrustError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw .keyFile(path: path, reason: "cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw .keyFile(path: path, reason: "not a text file") }
        return text
    }

    /// `text` read from `path` as a list. - Throws: `TrustError.keyFile` naming the path and line.
    public static func parse(_ text: String, path: String) throws(TrustError) -> RevocationList {
        do { return try RevocationList(text: text) } catch { throw .keyFile(path: path, reason: "\(error)") }
    }

    /// Reads `path` every `interval` until cancelled and hands each new list that parses to
    /// `revocations`. Polling, not inotify: the file is small, and polling also sees a
    /// file replaced by a rename or on a volume that sends no events (a mounted secret).
    public static func watch(
        _ path: String, into revocations: Revocations, every interval: Duration = .seconds(2), logger: Logger
    ) async throws {
        // Nil at first, so that a change made since the list was loaded is not missed.
        var last: Data?
        while true {
            try await Task.sleep(for: interval)
            let now = FileManager.default.contents(atPath: path)
            guard now != last else { continue }
            last = now
            do throws(TrustError) {
                let list = try read(at: path)
                guard list != revocations.own else { continue }
                revocations.replace(with: list)
                logger.notice("revocation list \(path) read again: \(list.clients.count) clients, \(list.keys.count) keys")
            } catch {
                logger.error("revocation list not changed, the one before stays in force: \(error)")
            }
        }
    }
}
