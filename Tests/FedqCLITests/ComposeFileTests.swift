import ArgumentParser
import Foundation
import Testing
import Yams

@testable import CLISupport
@testable import FedqBench
@testable import FedqCLI

/// docker/compose.yml runs each role as `fedq COMMAND` plus flags taken from its environment. No
/// Docker engine runs on the dev machines or in CI, so a renamed flag or a dropped subcommand would
/// only surface at someone's `docker compose up`; these tests put every role's command line through
/// the real `fedq` parser instead, and check the settings a scaled, loopback-only deployment needs.
@Suite struct ComposeFileTests {
    /// The repository root: this file is Tests/FedqCLITests/ComposeFileTests.swift.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The services of docker/compose.yml. Yams applies `<<: *fedq` merge keys while loading
    /// (Node.Mapping.flatten); `everyRoleCommandParses` checks the anchor's environment arrived.
    static func services() throws -> [String: [String: Any]] {
        let compose = try #require(try Yams.load(yaml: text("docker/compose.yml")) as? [String: Any])
        let services = try #require(compose["services"] as? [String: Any], "compose.yml has no services")
        var result: [String: [String: Any]] = [:]
        for (name, service) in services {
            result[name] = try #require(service as? [String: Any], "service \(name) is not a mapping")
        }
        return result
    }

    /// The services that run the fedq image (build it or name it), each one role of the pipeline.
    static func roles() throws -> [(name: String, service: [String: Any])] {
        try services().filter { _, service in
            service["build"] != nil || (service["image"] as? String)?.hasPrefix("fedqueue/fedq") == true
        }.map { (name: $0.key, service: $0.value) }.sorted { $0.name < $1.name }
    }

    static func command(_ service: [String: Any], of name: String) throws -> [String] {
        let items = try #require(service["command"] as? [Any], "\(name) has no command array")
        return try items.map { try #require($0 as? String, "\(name): command item \($0) is not a string") }
    }

    /// As compose passes it: every value a string, whatever YAML typed it as.
    static func environment(_ service: [String: Any]) -> [String: String] {
        (service["environment"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
    }

    @Test func everyRoleCommandParses() throws {
        let roles = try Self.roles()
        #expect(!roles.isEmpty)
        for (name, service) in roles {
            let environment = Self.environment(service)
            #expect(environment["FEDQ_BROKER"] != nil, "\(name) lost x-fedq's environment (a shallow merge?)")
            let arguments = EnvironmentDefaults.arguments(try Self.command(service, of: name), environment: environment)
            do {
                _ = try Fedq.parseAsRoot(arguments)
            } catch {
                Issue.record("\(name): `fedq \(arguments.joined(separator: " "))` is refused: \(Fedq.message(for: error))")
            }
        }
    }

    @Test func composeRunsEveryDistributedRole() throws {
        var commands: Set<String> = []
        for (name, service) in try Self.roles() {
            commands.insert(try Self.command(service, of: name).first ?? "")
        }
        #expect(commands.isSuperset(of: ["coordinator", "worker", "fleet", "eval"]))
    }

    /// `docker compose up --scale worker=N` fails on a fixed container name or a published port.
    @Test func workerScales() throws {
        let worker = try #require(try Self.services()["worker"])
        #expect(!worker.keys.contains("container_name"))
        #expect(!worker.keys.contains("ports"))
    }

    /// The fedq user's password is committed, so the broker must not listen beyond this host; and
    /// the topology must be mounted where rabbitmq.conf's load_definitions looks for it.
    @Test func brokerIsLocalAndImportsTheTopology() throws {
        let rabbitmq = try #require(try Self.services()["rabbitmq"])
        let ports = try #require(rabbitmq["ports"] as? [String])
        #expect(!ports.isEmpty)
        for port in ports {
            #expect(port.hasPrefix("127.0.0.1:"), "\(port) is published on every interface")
        }
        let volumes = try #require(rabbitmq["volumes"] as? [String])
        let topology = try #require(
            volumes.map { $0.split(separator: ":").map(String.init) }.first { $0.first == "../topology/definitions.json" })
        let setting = try #require(try Self.text("docker/rabbitmq.conf").split(separator: "\n")
            .first { $0.hasPrefix("load_definitions") })
        let directory = String(setting.split(separator: "=")[1]).trimmingCharacters(in: .whitespaces)
        #expect(topology[1].hasPrefix(directory + "/"))
    }

    /// Importing definitions on a blank node skips the default user, so the roles can log in only
    /// as a user of docker/definitions-users.json: the one in FEDQ_BROKER, with its password.
    @Test func brokerURLNamesTheImportedUser() throws {
        let worker = try #require(try Self.services()["worker"])
        let broker = try #require(Self.environment(worker)["FEDQ_BROKER"])
        let url = try #require(URL(string: broker))
        let definitions = try JSONSerialization.jsonObject(with: Data(Self.text("docker/definitions-users.json").utf8))
        let users = try #require((definitions as? [String: Any])?["users"] as? [[String: Any]])
        #expect(users.contains { $0["name"] as? String == url.user && $0["password"] as? String == url.password })
    }

    /// The negative control: the same path refuses a bad flag, so the checks above can fail.
    @Test func unknownFlagIsRefused() throws {
        let worker = try #require(try Self.services()["worker"])
        let arguments = EnvironmentDefaults.arguments(["worker", "--no-such-flag"], environment: Self.environment(worker))
        #expect(throws: (any Error).self) { _ = try Fedq.parseAsRoot(arguments) }
    }

    /// SwiftPM refuses a manifest whose target folders are missing, even to build one
    /// product: the image's build context and stage must hold every folder Package.swift names.
    @Test func imageBuildContextHoldsEveryTargetFolder() throws {
        let allowed = try Self.text(".dockerignore").split(separator: "\n").filter { $0.hasPrefix("!") }.map { $0.dropFirst() }
        let dockerfile = try Self.text("docker/Dockerfile")
        for folder in ["Sources", "Tests"] {
            #expect(allowed.contains("\(folder)/"), ".dockerignore leaves out \(folder)/")
            #expect(dockerfile.contains("COPY \(folder) ./\(folder)"), "the build stage does not copy \(folder)/")
        }
        let manifest = try Self.text("Package.swift")
        #expect(!manifest.contains("path: \"") || manifest.components(separatedBy: "path: \"").dropFirst().allSatisfy {
            $0.hasPrefix("Sources/") || $0.hasPrefix("Tests/")
        }, "a target lives outside Sources/ and Tests/")
    }
}
