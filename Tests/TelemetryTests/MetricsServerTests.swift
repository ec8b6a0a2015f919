import CoreMetrics
import NIOCore
import Testing

@testable import Telemetry

/// The `/metrics` server on real sockets: the hosts it binds, what it answers each request
/// with, keep-alive, and that an idle connection holds up no other scrape.
@Suite struct MetricsServerTests {
    /// A registry like a role's, on a factory of its own (the process-wide metrics system is
    /// bootstrapped only once, and not here), with the process metrics after it.
    static let exposition: @Sendable () -> [UInt8] = {
        let factory = DocumentedMetricsFactory(
            registry: .init(), help: ["test_scrapes_total": "Scrapes a test made."], valueBuckets: [:],
            durationBuckets: Telemetry.durationBuckets)
        factory.makeCounter(label: "test_scrapes_total", dimensions: []).increment(by: 3)
        return Telemetry.exposition(of: factory.registry)
    }()

    static func start(_ host: String = "127.0.0.1") async throws -> MetricsServer {
        try await MetricsServer.start(host: host, port: 0, exposition: exposition)
    }

    static func get(_ path: String, from server: MetricsServer, method: String = "GET") async throws -> TestConnection.Response {
        let connection = try await TestConnection.open(to: server.localAddress)
        try await connection.send("\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        let response = try #require(await connection.response(toHEAD: method == "HEAD"), "no response to \(method) \(path)")
        await connection.close()
        return response
    }

    @Test(arguments: ["127.0.0.1", "localhost", "::1"])
    func servesPrometheusTextOnEachHost(host: String) async throws {
        let server = try await Self.start(host)
        #expect(server.port > 0)
        #expect(server.url == (host == "::1" ? "http://[::1]:\(server.port)/metrics" : "http://\(host):\(server.port)/metrics"))
        let response = try await Self.get("/metrics", from: server)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.headers["content-length"] == String(response.body.utf8.count))
        #expect(response.body.contains("# HELP test_scrapes_total Scrapes a test made.\n# TYPE test_scrapes_total counter\ntest_scrapes_total 3\n"))
        for (name, type, _) in ProcessMetrics.definitions {
            #expect(response.body.contains("# HELP \(name) "), "no HELP for \(name)")
            #expect(response.body.contains("# TYPE \(name) \(type)\n"), "no TYPE for \(name)")
        }
        await server.shutdown()
    }

    @Test func headAnswersWithTheHeadersOfGetAndNoBody() async throws {
        let server = try await Self.start()
        let connection = try await TestConnection.open(to: server.localAddress)
        // HEAD, then GET on the same connection: had HEAD carried a body, the GET's status line
        // would be read from the middle of it.
        try await connection.send("HEAD /metrics HTTP/1.1\r\nHost: test\r\n\r\nGET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        let head = try #require(await connection.response(toHEAD: true))
        let get = try #require(await connection.response())
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
        #expect(get.status == 200 && get.body.contains("# TYPE test_scrapes_total counter"))
        await connection.close()
        await server.shutdown()
    }

    @Test(arguments: [
        ("GET", "/", 404), ("GET", "/metricsx", 404), ("HEAD", "/nope", 404), ("GET", "/metrics?name[]=x", 200),
        ("POST", "/metrics", 405), ("DELETE", "/metrics", 405), ("POST", "/other", 404),
    ])
    func answersOtherPathsAndMethods(method: String, path: String, status: Int) async throws {
        let server = try await Self.start()
        let response = try await Self.get(path, from: server, method: method)
        #expect(response.status == status)
        if status == 405 { #expect(response.headers["allow"] == "GET, HEAD") }
        await server.shutdown()
    }

    @Test func routeDependsOnMethodAndPathOnly() {
        #expect(MetricsRoute(method: .GET, uri: "/metrics") == .metrics(withBody: true))
        #expect(MetricsRoute(method: .HEAD, uri: "/metrics?x=1") == .metrics(withBody: false))
        #expect(MetricsRoute(method: .PUT, uri: "/metrics") == .methodNotAllowed)
        #expect(MetricsRoute(method: .GET, uri: "/metrics/") == .notFound)
        #expect(MetricsRoute(method: .GET, uri: "*") == .notFound)
    }

    /// The old server read one connection at a time: a scraper that opened a connection and sent
    /// half a request held every other scrape until its read timed out.
    @Test func idleConnectionsHoldUpNoScrape() async throws {
        let server = try await Self.start()
        let silent = try await TestConnection.open(to: server.localAddress)
        let halfway = try await TestConnection.open(to: server.localAddress)
        try await halfway.send("GET /metr")
        let response = try await Self.get("/metrics", from: server)
        #expect(response.status == 200)
        // Both were still open while the scrape was answered.
        #expect(silent.channel.isActive && halfway.channel.isActive)
        await silent.close()
        await halfway.close()
        await server.shutdown()
    }

    @Test func keepAliveServesSeveralScrapesOnOneConnection() async throws {
        let server = try await Self.start()
        let connection = try await TestConnection.open(to: server.localAddress)
        for _ in 0..<3 {
            try await connection.send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            let response = try #require(await connection.response())
            #expect(response.status == 200 && response.headers["connection"] == nil)
        }
        // HTTP/1.0 closes unless asked not to.
        try await connection.send("GET /metrics HTTP/1.0\r\n\r\n")
        let last = try #require(await connection.response())
        #expect(last.status == 200 && last.headers["connection"] == "close")
        #expect(await connection.serverClosed())
        await server.shutdown()
    }

    /// (Whether the port still answers is not asked: with other tests and processes binding
    /// port 0 at the same time, the freed port may already be someone else's.)
    @Test func shutdownClosesOpenConnectionsAndTheListener() async throws {
        let server = try await Self.start()
        let connection = try await TestConnection.open(to: server.localAddress)
        #expect(server.isListening)
        await server.shutdown()
        #expect(await connection.serverClosed())
        #expect(!server.isListening)
    }

    @Test func bindFailuresAreOneLineTypedErrors() async throws {
        let server = try await Self.start()
        await #expect(throws: MetricsServerError.bind(host: "127.0.0.1", port: server.port, reason: "address already in use")) {
            _ = try await MetricsServer.start(host: "127.0.0.1", port: server.port, exposition: Self.exposition)
        }
        await server.shutdown()
        do {
            _ = try await MetricsServer.start(host: "no-such-host.invalid", port: 0, exposition: Self.exposition)
            Issue.record("bound an unresolvable host")
        } catch {
            #expect(error.description.hasPrefix("cannot serve metrics on no-such-host.invalid:0: cannot resolve the host name"))
            #expect(!error.description.contains("\n"))
        }
        let error = MetricsServerError.bind(host: "::1", port: 9464, reason: "address already in use")
        #expect(error.description == "cannot serve metrics on [::1]:9464: address already in use")
    }
}
