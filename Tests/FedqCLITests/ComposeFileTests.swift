import AMQP
import ArgumentParser
import Foundation
import Roles
import Telemetry
import TestSupport
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

    /// Importing definitions on a blank node skips the default user, so the roles log in only as
    /// the users of topology/identities.json (imported at boot), by certificate: EXTERNAL, no
    /// user or password in FEDQ_BROKER, and each role's certificate names an imported user.
    @Test func rolesLogInAsTheImportedIdentitiesByCertificate() throws {
        let services = try Self.services()
        let rabbitmq = try #require(services["rabbitmq"])
        let volumes = try #require(rabbitmq["volumes"] as? [String])
        #expect(volumes.contains { $0.hasPrefix("../topology/identities.json:/etc/rabbitmq/definitions.d/") && $0.hasSuffix(":ro") })
        let definitions = try JSONSerialization.jsonObject(with: Data(Self.text("topology/identities.json").utf8))
        let users = try #require((definitions as? [String: Any])?["users"] as? [[String: Any]])
        #expect(users.allSatisfy { $0["password"] == nil && $0["password_hash"] == nil }, "a shipped identity carries a password")
        for (name, identity) in Self.identities {
            let service = try #require(services[name])
            let broker = try #require(Self.environment(service)["FEDQ_BROKER"])
            let url = try #require(URL(string: broker))
            #expect(url.user == nil && url.password == nil, "\(name)'s URL names a user or password")
            #expect(broker.contains("auth_mechanism=external"), "\(name) does not log in by certificate")
            #expect(users.contains { $0["name"] as? String == identity }, "no user \(identity) for \(name)")
        }
        #expect(try Self.rabbitmqConf().filter { $0.key.hasPrefix("auth_mechanisms.") }.values.sorted() == ["EXTERNAL"])
    }

    /// The identity each role service presents: the client certificate it mounts, named after
    /// the per-role RabbitMQ user it logs in as with EXTERNAL.
    static let identities = [
        "coordinator": "fedq-coordinator", "worker": "fedq-worker", "fleet": "fedq-client", "eval": "fedq-eval",
    ]

    /// `host:container[:ro]` mounts of a service, by container path.
    static func mounts(_ service: [String: Any]) -> [String: (host: String, readOnly: Bool)] {
        var result: [String: (host: String, readOnly: Bool)] = [:]
        for volume in service["volumes"] as? [String] ?? [] {
            let parts = volume.split(separator: ":").map(String.init)
            guard parts.count >= 2 else { continue }
            result[parts[1]] = (parts[0], parts.count > 2 && parts[2] == "ro")
        }
        return result
    }

    /// docker/rabbitmq.conf as key → value.
    static func rabbitmqConf() throws -> [String: String] {
        var settings: [String: String] = [:]
        for line in try text("docker/rabbitmq.conf").split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            settings[parts[0]] = parts[1]
        }
        return settings
    }

    /// Every role verifies the broker (amqps, verify on, the compose CA) and presents its own
    /// certificate; each file the URL names is mounted read-only from docker/tls/certs, and no
    /// role holds another's key.
    @Test func everyRoleConnectsOverVerifiedMutualTLSAsItsOwnIdentity() throws {
        for (name, service) in try Self.roles() {
            let identity = try #require(Self.identities[name], "\(name) has no identity in this test")
            let configuration = try AMQPConfiguration(url: try #require(Self.environment(service)["FEDQ_BROKER"]))
            let tls = try #require(configuration.tls, "\(name) connects without TLS")
            #expect(tls.verifyPeer, "\(name) does not verify the broker")
            #expect(configuration.host == "rabbitmq" && configuration.port == 5671)
            let mounts = Self.mounts(service)
            let expected = [
                (tls.caCertificatePath, "./tls/certs/ca.pem"), (tls.clientCertificatePath, "./tls/certs/\(identity).pem"),
                (tls.clientKeyPath, "./tls/certs/\(identity).key"),
            ]
            for (path, host) in expected {
                let path = try #require(path, "\(name): FEDQ_BROKER lacks cacertfile, certfile or keyfile")
                let mount = try #require(mounts[path], "\(name) does not mount \(path)")
                #expect(mount.host == host && mount.readOnly, "\(name) mounts \(path) from \(mount.host)")
            }
            let keys = mounts.values.map(\.host).filter { $0.hasSuffix(".key") }
            #expect(keys == ["./tls/certs/\(identity).key"], "\(name) mounts the keys \(keys)")
        }
    }

    /// The broker listens for TLS only, requires a client certificate its CA signed, offers
    /// EXTERNAL with the certificate's common name as the user, and its certificate names the
    /// host the roles connect to.
    @Test func brokerRequiresMutualTLSAndOffersExternal() throws {
        let settings = try Self.rabbitmqConf()
        #expect(settings["listeners.tcp"] == "none")
        #expect(settings["listeners.ssl.default"] == "5671")
        #expect(settings["ssl_options.verify"] == "verify_peer")
        #expect(settings["ssl_options.fail_if_no_peer_cert"] == "true")
        #expect(settings["ssl_cert_login_from"] == "common_name")
        #expect(settings.filter { $0.key.hasPrefix("auth_mechanisms.") }.values.contains("EXTERNAL"))

        let rabbitmq = try #require(try Self.services()["rabbitmq"])
        let mounts = Self.mounts(rabbitmq)
        for key in ["ssl_options.cacertfile", "ssl_options.certfile", "ssl_options.keyfile"] {
            let path = try #require(settings[key], "rabbitmq.conf has no \(key)")
            let mount = try #require(mounts[path], "rabbitmq does not mount \(path)")
            #expect(mount.host.hasPrefix("./tls/certs/") && mount.readOnly)
        }
        #expect((rabbitmq["ports"] as? [String] ?? []).contains("127.0.0.1:5671:5671"))
        let plugins = try #require(mounts["/etc/rabbitmq/enabled_plugins"], "enabled_plugins is not mounted")
        #expect(try Self.text("docker/" + plugins.host.dropFirst(2)).contains("rabbitmq_auth_mechanism_ssl"))

        let script = try Self.text("docker/tls/make-certs.sh")
        #expect(script.contains("tls_make_leaf ca server rabbitmq server \"DNS:rabbitmq,DNS:localhost\""))
        let library = try Self.text("scripts/lib/tls-certs.sh")
        #expect(library.contains("tls_role_identities=(fedq-coordinator fedq-worker fedq-client fedq-eval fedq-admin)"))
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

    /// Issue 20: the image pins every package (direct and transitive) to the version this
    /// build resolved: docker/package-versions.txt must list exactly Package.resolved's pins,
    /// and the build stage must read it.
    @Test func theImagePinsEveryPackageThisBuildResolved() throws {
        struct Resolved: Decodable {
            struct Pin: Decodable {
                struct State: Decodable { var version: String? }
                var identity: String
                var state: State
            }
            var pins: [Pin]
        }
        let resolved = try JSONDecoder().decode(Resolved.self, from: Data(try Self.text("Package.resolved").utf8))
        let expected = resolved.pins.map { "\($0.identity) \($0.state.version ?? "?")" }.sorted()
        let listed = try Self.text("docker/package-versions.txt").split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(listed == expected, "docker/package-versions.txt is out of date: run scripts/docker-pins.sh")
        #expect(!expected.contains { $0.hasSuffix(" ?") }, "a package is pinned to a branch or revision, not a version")
        let dockerfile = try Self.text("docker/Dockerfile")
        #expect(dockerfile.contains("COPY Package.swift docker/package-versions.txt ./"))
        #expect(dockerfile.contains("swift package resolve \"$package\" --version \"$version\""))
        #expect(try Self.text(".dockerignore").contains("!docker/package-versions.txt"))
        #expect(!dockerfile.contains("swift:6.3-"), "the toolchain image floats")
    }

    // MARK: Prometheus and Grafana

    static func yaml(_ path: String) throws -> [String: Any] {
        try #require(try Yams.load(yaml: text(path)) as? [String: Any], "\(path) is not a mapping")
    }

    /// The `host:port` targets of each job of docker/prometheus.yml: its static targets and the
    /// names it resolves through DNS.
    static func scrapeTargets() throws -> [String: [(host: String, port: Int)]] {
        let jobs = try #require(try yaml("docker/prometheus.yml")["scrape_configs"] as? [[String: Any]])
        var targets: [String: [(host: String, port: Int)]] = [:]
        for job in jobs {
            let name = try #require(job["job_name"] as? String)
            for lookup in job["dns_sd_configs"] as? [[String: Any]] ?? [] {
                let port = try #require(lookup["port"] as? Int, "\(name): a DNS lookup without a port")
                for host in lookup["names"] as? [String] ?? [] { targets[name, default: []].append((host, port)) }
            }
            for group in job["static_configs"] as? [[String: Any]] ?? [] {
                for target in group["targets"] as? [String] ?? [] {
                    let parts = target.split(separator: ":")
                    targets[name, default: []].append((String(parts[0]), Int(parts.last ?? "") ?? 0))
                }
            }
        }
        return targets
    }

    /// Prometheus scrapes every role service (by its name, so each replica of a scaled one) on
    /// the port its environment gives `--metrics-port`, and nothing compose does not run.
    @Test func prometheusScrapesEveryRole() throws {
        let targets = try Self.scrapeTargets().values.flatMap { $0 }
        for (name, service) in try Self.roles() {
            let port = try #require(Int(Self.environment(service)["FEDQ_METRICS_PORT"] ?? ""), "\(name) serves no metrics")
            #expect(targets.contains { $0.host == name && $0.port == port }, "prometheus.yml does not scrape \(name) on :\(port)")
        }
        let services = try Self.services()
        for target in targets { #expect(services[target.host] != nil, "prometheus.yml scrapes \(target.host), which compose does not run") }
    }

    @Test func prometheusConfigPassesPromtool() async throws {
        let result = try await Promtool.run(["check", "config", Self.root.appendingPathComponent("docker/prometheus.yml").path])
        #expect(result.status == 0, "promtool check config: \(result.output)")
    }

    /// Both publish on loopback only (like the broker), run a pinned release, and find their
    /// files where compose mounts them.
    @Test func monitoringIsLocalPinnedAndProvisioned() throws {
        let services = try Self.services()
        for name in ["prometheus", "grafana"] {
            let service = try #require(services[name], "compose.yml has no \(name)")
            let image = try #require(service["image"] as? String)
            let tag = image.split(separator: ":").dropFirst().first ?? ""
            #expect(!tag.isEmpty && tag != "latest", "\(name): \(image) is not pinned")
            let ports = try #require(service["ports"] as? [String])
            for port in ports { #expect(port.hasPrefix("127.0.0.1:"), "\(name): \(port) is published on every interface") }
        }
        let mounts = { (name: String) throws -> [String: String] in
            let volumes = try #require(services[name]?["volumes"] as? [String])
            return Dictionary(uniqueKeysWithValues: volumes.map { $0.split(separator: ":").map(String.init) }.map { ($0[0], $0[1]) })
        }
        #expect(try mounts("prometheus")["./prometheus.yml"] == "/etc/prometheus/prometheus.yml")
        let grafana = try mounts("grafana")
        #expect(grafana["./grafana/provisioning"] == "/etc/grafana/provisioning")
        let provider = try #require((try Self.yaml("docker/grafana/provisioning/dashboards/fedqueue.yml")["providers"] as? [[String: Any]])?.first)
        #expect(grafana["./grafana/dashboards"] == (provider["options"] as? [String: Any])?["path"] as? String)
    }

    /// The dashboard's queries, with the data source each panel names.
    static func dashboardQueries() throws -> [(panel: String, expr: String, datasource: String?)] {
        let dashboard = try #require(
            try JSONSerialization.jsonObject(with: Data(text("docker/grafana/dashboards/fedqueue.json").utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]], "the dashboard has no panels")
        return panels.flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { target in
                (target["expr"] as? String).map {
                    (panel["title"] as? String ?? "?", $0, ((target["datasource"] ?? panel["datasource"]) as? [String: Any])?["uid"] as? String)
                }
            }
        }
    }

    /// Every query names a metric a FedQueue process serves (a `PipelineMetric`, or a
    /// `process_*` one; `_bucket`, `_sum` and `_count` of histograms only), on the provisioned
    /// data source; and the series an operator watches are all there.
    @Test func dashboardQueriesNameMetricsFedQueueServes() throws {
        let queries = try Self.dashboardQueries()
        #expect(!queries.isEmpty)
        let histograms = Set(PipelineMetric.allCases.filter { $0.kind != .counter && $0.kind != .gauge }.map(\.name))
        let known = Set(PipelineMetric.allCases.map(\.name) + ProcessMetrics.definitions.map(\.name))
        let source = try #require((try Self.yaml("docker/grafana/provisioning/datasources/prometheus.yml")["datasources"] as? [[String: Any]])?.first)
        var used: Set<String> = []
        for (panel, expr, datasource) in queries {
            #expect(datasource == source["uid"] as? String, "\(panel): data source \(datasource ?? "none")")
            let names = expr.matches(of: /\b(?:fedq|process)_[a-z0-9_]+/).map { String($0.output) }
            #expect(!names.isEmpty, "\(panel): \(expr) names no FedQueue metric")
            for name in names {
                let base = name.replacing(/_(bucket|sum|count)$/, with: "")
                let metric = known.contains(name) ? name : base
                #expect(known.contains(metric), "\(panel): \(name) is no metric FedQueue serves")
                #expect(metric == name || histograms.contains(base), "\(panel): \(name) of a metric that is no histogram")
                used.insert(metric)
            }
        }
        let watched: [PipelineMetric] = [.updatesApplied, .queueReady, .staleness, .updatesRejected, .evaluatedAccuracy, .modelVersion]
        for metric in watched { #expect(used.contains(metric.name), "the dashboard does not show \(metric.name)") }
    }

    /// promtool parses each query (as a recording rule), Grafana's interval variables set to a value.
    @Test func dashboardQueriesParseAsPromQL() async throws {
        var rules = "groups:\n  - name: dashboard\n    rules:\n"
        for (index, query) in try Self.dashboardQueries().enumerated() {
            let expr = query.expr.replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$__range", with: "1h")
            rules += "      - record: dashboard_query_\(index)\n        expr: '\(expr.replacingOccurrences(of: "'", with: "''"))'\n"
        }
        let file = try Promtool.temporaryFile("dashboard-rules.yml", rules)
        let result = try await Promtool.run(["check", "rules", file])
        #expect(result.status == 0, "promtool check rules: \(result.output)\n\(rules)")
    }
}
