import Foundation

/// The broker identities of a FedQueue deployment, one per role, with the least
/// privilege each needs, as RabbitMQ itself expresses it: configure / write / read
/// regular expressions over resource names (`topology/identities.json`, in RabbitMQ's
/// definitions format, without passwords).
///
/// `definitions(passwords:)` turns it into a document `rabbitmqctl import_definitions`
/// (or `load_definitions` at boot) reads: every user with a salted SHA-256 password hash
/// (`rabbit_password_hashing_sha256`), so the file that reaches the broker holds no
/// password, and each password lives only in its role's secret file.
public struct BrokerIdentities: Sendable, Equatable {
    public struct User: Codable, Sendable, Equatable {
        public var name: String
        public var tags: [String]
    }

    public struct Permission: Codable, Sendable, Equatable {
        public var user: String
        public var vhost: String
        public var configure: String
        public var write: String
        public var read: String
    }

    public var users: [User]
    public var permissions: [Permission]

    private struct File: Codable {
        var users: [User]
        var permissions: [Permission]
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case invalid(String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read identities from \(path): \(reason)"
            case .invalid(let why): "invalid identities: \(why)"
            }
        }
    }

    public init(users: [User], permissions: [Permission]) throws(Failure) {
        self.users = users
        self.permissions = permissions
        let names = Set(users.map(\.name))
        guard names.count == users.count else { throw .invalid("a user is listed twice") }
        for permission in permissions {
            guard names.contains(permission.user) else { throw .invalid("permissions for unknown user '\(permission.user)'") }
            for pattern in [permission.configure, permission.write, permission.read] {
                guard (try? Regex(pattern)) != nil else { throw .invalid("'\(pattern)' of \(permission.user) is not a regular expression") }
            }
        }
    }

    /// Reads `topology/identities.json` (or another file in the same format).
    public init(contentsOf path: String) throws(Failure) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedFailureReason ?? "no such file or not readable")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw .unreadable(path: path, reason: "not identities JSON (\(error))")
        }
        try self.init(users: file.users, permissions: file.permissions)
    }

    /// The user's permissions in `vhost`, or nil when it has none there.
    public func permission(of user: String, vhost: String = "/") -> Permission? {
        permissions.first { $0.user == user && $0.vhost == vhost }
    }

    /// A RabbitMQ definitions document creating every user with its password's hash and
    /// its permissions. Users without a password in `passwords` get none (they can only
    /// log in by certificate, RabbitMQ's EXTERNAL mechanism).
    public func definitions(passwords: [String: String], salt: () -> [UInt8] = { Self.randomBytes(4) }) throws -> Data {
        var users: [[String: Any]] = []
        for user in self.users {
            var entry: [String: Any] = ["name": user.name, "tags": user.tags.joined(separator: ",")]
            if let password = passwords[user.name] {
                entry["password_hash"] = Self.passwordHash(password, salt: salt())
                entry["hashing_algorithm"] = "rabbit_password_hashing_sha256"
            } else {
                entry["password_hash"] = ""
            }
            users.append(entry)
        }
        let permissions: [[String: Any]] = self.permissions.map {
            ["user": $0.user, "vhost": $0.vhost, "configure": $0.configure, "write": $0.write, "read": $0.read]
        }
        let vhosts = Set(self.permissions.map(\.vhost)).sorted().map { ["name": $0] }
        return try JSONSerialization.data(
            withJSONObject: ["users": users, "permissions": permissions, "vhosts": vhosts],
            options: [.prettyPrinted, .sortedKeys])
    }

    /// RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ SHA-256(salt ‖ password)),
    /// with a 4-byte random salt, which is what the broker compares a login against.
    public static func passwordHash(_ password: String, salt: [UInt8]) -> String {
        Data(salt + Digest.sha256(salt + Array(password.utf8))).base64EncodedString()
    }

    /// A fresh password: 24 random bytes, base64url (32 characters, safe in a URL's userinfo).
    public static func randomPassword() -> String {
        Data(randomBytes(24)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
