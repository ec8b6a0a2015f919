import Foundation
import Testing

@testable import Trust

@Suite struct BrokerIdentitiesTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topology/identities.json").path

    /// RabbitMQ's own worked example (rabbitmq.com/docs/passwords, "Computing Password Hash").
    @Test func passwordHashIsRabbitMQsSaltedSHA256() {
        #expect(BrokerIdentities.passwordHash("test12", salt: [0x90, 0x8D, 0xC6, 0x0A]) == "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR")
    }

    @Test func randomPasswordsAreLongURLSafeAndDistinct() {
        let passwords = (0..<50).map { _ in BrokerIdentities.randomPassword() }
        #expect(Set(passwords).count == 50)
        #expect(passwords.allSatisfy { $0.count == 32 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
    }

    /// The shipped least-privilege table: what each role may configure, write and read.
    @Test func shippedIdentitiesGiveEachRoleOnlyItsJob() throws {
        let identities = try BrokerIdentities(contentsOf: Self.shipped)
        func may(_ user: String, _ access: KeyPath<BrokerIdentities.Permission, String>, _ resource: String) throws -> Bool {
            let permission = try #require(identities.permission(of: user))
            return try Regex(permission[keyPath: access]).wholeMatch(in: resource) != nil
        }
        #expect(Set(identities.users.map(\.name)) == ["fedq-admin", "fedq-coordinator", "fedq-worker", "fedq-client", "fedq-eval", "fedq-operator"])
        // Clients publish updates and model requests, read the model feed, and own server-named queues only.
        #expect(try may("fedq-client", \.write, "fedq.updates") && may("fedq-client", \.write, "fedq.model-requests"))
        #expect(try may("fedq-client", \.read, "fedq.models") && may("fedq-client", \.configure, "amq.gen-abc"))
        for resource in ["fedq.partials", "fedq.models", "fedq.versions", "fedq.dead", "amq.default", "fedq.q.updates", "fedq.q.partials"] {
            #expect(try !may("fedq-client", \.write, resource), "client may write \(resource)")
        }
        for resource in ["fedq.updates", "fedq.versions", "fedq.q.updates", "fedq.q.partials", "fedq.q.dead", "fedq.q.model-requests"] {
            #expect(try !may("fedq-client", \.read, resource), "client may read \(resource)")
        }
        #expect(try !may("fedq-client", \.configure, "fedq.q.updates") && !may("fedq-client", \.configure, "hostile"))
        // Only the coordinator publishes models and versions; nobody but the admin configures shared resources.
        for user in ["fedq-worker", "fedq-client", "fedq-eval", "fedq-operator"] {
            #expect(try !may(user, \.write, "fedq.models") && !may(user, \.write, "fedq.versions"), "\(user) may publish models")
        }
        #expect(try may("fedq-coordinator", \.write, "fedq.models") && may("fedq-coordinator", \.write, "fedq.versions"))
        for user in ["fedq-coordinator", "fedq-worker", "fedq-client", "fedq-eval", "fedq-operator"] {
            for resource in ["fedq.updates", "fedq.q.updates", "fedq.q.dead", "fedq.versions"] {
                #expect(try !may(user, \.configure, resource), "\(user) may configure \(resource)")
            }
        }
        #expect(try may("fedq-worker", \.read, "fedq.q.updates") && may("fedq-worker", \.write, "fedq.partials"))
        // A table federation's statistics: clients send them, the coordinator alone reads them.
        #expect(try may("fedq-client", \.write, "fedq.statistics") && may("fedq-coordinator", \.read, "fedq.q.statistics"))
        for user in ["fedq-worker", "fedq-client", "fedq-eval", "fedq-operator"] {
            #expect(try !may(user, \.read, "fedq.q.statistics"), "\(user) may read the clients' statistics")
        }
        for user in ["fedq-coordinator", "fedq-worker", "fedq-eval", "fedq-operator"] {
            #expect(try !may(user, \.write, "fedq.statistics"), "\(user) may send statistics")
        }
        #expect(try !may("fedq-client", \.write, "fedq.q.statistics") && !may("fedq-client", \.configure, "fedq.q.statistics"))
        // Chunked updates (docs/wire-format.md, Chunks): clients publish them, workers read them, nobody else.
        #expect(try may("fedq-client", \.write, "fedq.update-chunks") && may("fedq-worker", \.read, "fedq.q.update-chunks"))
        #expect(try !may("fedq-client", \.read, "fedq.q.update-chunks") && !may("fedq-eval", \.write, "fedq.update-chunks"))
        #expect(try !may("fedq-worker", \.read, "fedq.q.partials") && !may("fedq-eval", \.write, "fedq.updates"))
    }

    @Test func definitionsHoldHashesNotPasswords() throws {
        let identities = try BrokerIdentities(contentsOf: Self.shipped)
        let data = try identities.definitions(passwords: ["fedq-worker": "s3cret-value"], salt: { [1, 2, 3, 4] })
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("s3cret-value"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let users = try #require(json["users"] as? [[String: Any]])
        let worker = try #require(users.first { $0["name"] as? String == "fedq-worker" })
        #expect(worker["password_hash"] as? String == BrokerIdentities.passwordHash("s3cret-value", salt: [1, 2, 3, 4]))
        #expect(worker["hashing_algorithm"] as? String == "rabbit_password_hashing_sha256")
        #expect((json["permissions"] as? [Any])?.count == 6)
    }

    @Test func badIdentitiesAreRefusedWithTheReason() throws {
        #expect(throws: BrokerIdentities.Failure.invalid("permissions for unknown user 'ghost'")) {
            try BrokerIdentities(users: [], permissions: [.init(user: "ghost", vhost: "/", configure: "", write: "", read: "")])
        }
        #expect(throws: BrokerIdentities.Failure.invalid("'(' of a is not a regular expression")) {
            try BrokerIdentities(users: [.init(name: "a", tags: [])], permissions: [.init(user: "a", vhost: "/", configure: "(", write: "", read: "")])
        }
        #expect { try BrokerIdentities(contentsOf: "/nonexistent/identities.json") } throws: {
            ($0 as? BrokerIdentities.Failure)?.description.hasPrefix("cannot read identities from /nonexistent/identities.json") == true
        }
    }
}
