import Testing

@testable import AMQP

@Suite("Broker URL parsing")
struct AMQPConfigurationURLTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let url: String
        let host: String
        let port: Int
        let vhost: String
        let user: String
        let password: String
        let heartbeat: Int
        let tls: Bool
        var testDescription: String { url }
    }

    @Test(arguments: [
        Case(url: "amqp://guest:guest@127.0.0.1:5699/%2F", host: "127.0.0.1", port: 5699, vhost: "/", user: "guest",
             password: "guest", heartbeat: 10, tls: false),
        Case(url: "amqp://localhost", host: "localhost", port: 5672, vhost: "/", user: "guest", password: "guest",
             heartbeat: 10, tls: false),
        Case(url: "amqp://u%40x:p%3Aw@broker:1234/fed?heartbeat=3", host: "broker", port: 1234, vhost: "fed",
             user: "u@x", password: "p:w", heartbeat: 3, tls: false),
        Case(url: "amqps://alice@[::1]/", host: "::1", port: 5671, vhost: "/", user: "alice", password: "guest",
             heartbeat: 10, tls: true),
        Case(url: "amqp://:secret@h:1/", host: "h", port: 1, vhost: "/", user: "", password: "secret", heartbeat: 10, tls: false),
    ])
    func parsesValidURLs(_ expected: Case) throws {
        let configuration = try AMQPConfiguration(url: expected.url)
        #expect(configuration.host == expected.host)
        #expect(configuration.port == expected.port)
        #expect(configuration.virtualHost == expected.vhost)
        #expect(configuration.user == expected.user)
        #expect(configuration.password == expected.password)
        #expect(configuration.heartbeat == expected.heartbeat)
        #expect((configuration.tls != nil) == expected.tls)
    }

    @Test func readsTLSAndTuningOptions() throws {
        let configuration = try AMQPConfiguration(
            url: "amqps://b:5671/%2F?cacertfile=/ca.pem&certfile=/c.pem&keyfile=/k.pem&verify=verify_none"
                + "&frame_max=262144&channel_max=64&connection_timeout=2500&connection_name=worker-1")
        #expect(configuration.tls == AMQPConfiguration.TLS(caCertificatePath: "/ca.pem", clientCertificatePath: "/c.pem",
                                                            clientKeyPath: "/k.pem", verifyPeer: false))
        #expect(configuration.frameMax == 262_144)
        #expect(configuration.channelMax == 64)
        #expect(configuration.connectTimeout == 2.5)
        #expect(configuration.connectionName == "worker-1")
        #expect(configuration.redactedURL == "amqps://guest@b:5671/%2F")
    }

    @Test func externalLogsInWithTheClientCertificateAndNamesNoUser() throws {
        let configuration = try AMQPConfiguration(
            url: "amqps://b/%2F?auth_mechanism=external&certfile=/c.pem&keyfile=/k.pem&cacertfile=/ca.pem")
        #expect(configuration.authMechanism == .external)
        #expect(configuration.user == "")
        #expect(configuration.redactedURL == "amqps://b:5671/%2F")
        // certfile may come first, the mechanism in capitals; a user in the URL is kept (sent as the identity).
        let named = try AMQPConfiguration(url: "amqps://fedq-worker@b/?certfile=/c.pem&auth_mechanism=EXTERNAL")
        #expect(named.authMechanism == .external && named.user == "fedq-worker")
        #expect(try AMQPConfiguration(url: "amqps://u:p@b/?auth_mechanism=plain").authMechanism == .plain)
        #expect(try AMQPConfiguration(url: "amqps://u:p@b/").authMechanism == .plain)
    }

    @Test(arguments: [
        ("amqp://b/?auth_mechanism=external&certfile=/c.pem", "needs an amqps:// URL"),
        ("amqps://b/?auth_mechanism=external", "add certfile="),
        ("amqps://w:s3cret@b/?auth_mechanism=external&certfile=/c.pem", "takes no password"),
        ("amqps://b/?auth_mechanism=kerberos", "plain or external"),
    ])
    func rejectsExternalWithoutWhatItNeeds(_ url: String, _ why: String) throws {
        let error = try #require(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
        #expect(error.code == .invalidURL)
        #expect(error.text.contains(why), "\(error)")
        #expect(!error.description.contains("s3cret"), "\(error)")
    }

    @Test(arguments: [
        "http://host/", "amqp://host:0/", "amqp://host:99999/", "amqp://host:abc/", "amqp://host/a/b",
        "amqp://host/?heartbeat=x", "amqp://host/?nope=1", "amqp://host/?cacertfile=/ca.pem", "amqp://[::1/",
        "amqp://host/%zz", "amqps://host/?verify=maybe",
    ])
    func rejectsInvalidURLs(_ url: String) {
        #expect {
            try AMQPConfiguration(url: url)
        } throws: { error in
            (error as? AMQPError)?.code == .invalidURL
        }
    }
}
