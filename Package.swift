// swift-tools-version: 6.2
import PackageDescription

/// AVX2 + FMA for the vector kernels (training's sparse kernels, decode-and-accumulate) and
/// SSE4.2 for the CRC32C instruction, on x86-64, where servers have had all three since 2013;
/// other architectures get their native SIMD without flags.
let x86VectorFlags: [SwiftSetting] = {
    #if arch(x86_64)
    return [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-msse4.2"])]
    #else
    return []
    #endif
}()

let package = Package(
    name: "FedQueue",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fedq", targets: ["fedq"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        // The /metrics HTTP server (NIOHTTP1 on NIOPosix); already in the graph through compress-nio.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Ed25519 signatures (client credentials, signed updates and model versions) and SHA-256.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Tests only: parses docker/compose.yml to check its fedq command lines.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C shims: a module map and a header each, nothing else.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // The vocabulary every layer shares: update ids, model versions and staleness,
        // rejection reasons, the global model, message properties, seeded generators, byte reading.
        .target(name: "FedCore"),
        // Wire format: envelopes and codecs, bytes in, typed values out.
        .target(
            name: "Wire", dependencies: ["FedCore", .product(name: "CompressNIO", package: "compress-nio")],
            swiftSettings: x86VectorFlags
        ),
        // Learning: tensors, layers, training, datasets, partitions, metrics. The only user of CBLAS.
        .target(
            name: "Learning",
            dependencies: ["FedCore", "CBLAS", .product(name: "CompressNIO", package: "compress-nio")],
            swiftSettings: x86VectorFlags
        ),
        // Privacy: differential privacy settings, Gaussian noise and the RDP accountant. Pure math
        // (Aggregation for its vector math: a local-DP client clips as a worker does; Crypto for
        // the noise's ChaCha20 keystream, keyed from the kernel).
        .target(
            name: "Privacy",
            dependencies: [
                "FedCore", "Aggregation", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        // Trust: who may say what. Ed25519 keys, client credentials, message signatures, and
        // the broker identities' password hashes. No I/O beyond reading key files.
        // CryptoExtras: PKCS#8 and SPKI PEM for Ed25519 keys, so `openssl pkey` reads the key files.
        .target(
            name: "Trust",
            dependencies: [
                "FedCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Aggregation: staleness, strategies, server optimizers. Pure math, no I/O.
        .target(name: "Aggregation", dependencies: ["FedCore"]),

        // The transport seam: what roles need from a broker, and the in-process embedded broker.
        .target(name: "Messaging", dependencies: ["FedCore"]),
        // librabbitmq in Swift: the only module that calls amqp_* (and OpenSSL, to explain TLS failures).
        .target(name: "AMQP", dependencies: ["CRabbitMQ", "COpenSSL"]),
        // The RabbitMQ adapter of the seam, and the factory turning a broker URL into a transport.
        .target(name: "RabbitMQTransport", dependencies: ["AMQP", "Messaging", "FedCore"]),

        // The roles over any transport: client, worker, coordinator, evaluator.
        .target(
            name: "Roles",
            dependencies: [
                "FedCore", "Messaging", "Wire", "Learning", "Aggregation", "Privacy", "Trust",
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Run reports: summary.json, history, self-contained HTML with SVG charts.
        .target(name: "Report", dependencies: ["FedCore", "Aggregation", "Privacy", "Roles"]),
        // A whole federation in one process (clients, workers, coordinator, evaluator) on one transport.
        .target(
            name: "Simulation",
            dependencies: ["FedCore", "Messaging", "Wire", "Learning", "Aggregation", "Privacy", "Roles", "Report",
                .product(name: "Logging", package: "swift-log")]
        ),
        // Metrics: swift-metrics on a Prometheus registry with help texts, process metrics,
        // served on /metrics by a swift-nio HTTP/1.1 server.
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What every command shares: broker and metrics options, logging, signals and services.
        .target(
            name: "CLISupport",
            dependencies: [
                "Messaging", "RabbitMQTransport", "Roles", "Telemetry", "Privacy", "Trust",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks and the load test: `fedq bench …`, `fedq loadtest`.
        .target(
            name: "FedqBench",
            dependencies: [
                "FedCore", "Wire", "Learning", "Aggregation", "Messaging", "RabbitMQTransport", "Roles", "Report", "CLISupport",
                "Trust", "Privacy", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            // The codec benchmark's axpy reference is compiled like the kernels it is compared with.
            swiftSettings: x86VectorFlags
        ),
        // The command line: parse options, build the role, run it.
        .target(
            name: "FedqCLI",
            dependencies: [
                "FedCore", "Wire", "Learning", "Aggregation", "Messaging", "RabbitMQTransport", "Roles", "Report",
                "Simulation", "Telemetry", "CLISupport", "FedqBench", "Trust",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "fedq", dependencies: ["FedqCLI", "CLISupport"]),

        // Test helpers every test target shares: the test broker node, child processes.
        .target(name: "TestSupport", dependencies: ["Messaging", "RabbitMQTransport", "Trust"], path: "Tests/TestSupport"),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning"]),
        .testTarget(name: "AggregationTests", dependencies: ["Aggregation"]),
        .testTarget(name: "FedCoreTests", dependencies: ["FedCore"]),
        .testTarget(name: "PrivacyTests", dependencies: ["Privacy", "FedCore"]),
        .testTarget(name: "TrustTests", dependencies: ["Trust", "FedCore"]),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry", .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "MessagingTests", dependencies: ["FedCore", "Messaging", "RabbitMQTransport", "TestSupport"]),
        .testTarget(
            name: "RolesTests",
            dependencies: [
                "FedCore", "Messaging", "RabbitMQTransport", "Roles", "Report", "Simulation", "Wire", "Learning",
                "Aggregation", "AMQP", "TestSupport", "Trust", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FedqCLITests",
            dependencies: [
                "FedqCLI", "FedqBench", "CLISupport", "RabbitMQTransport", "Messaging", "AMQP", "Roles", "Telemetry", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ],
            // Read through #filePath: a real run's outputs, not resources of the bundle.
            exclude: ["Fixtures"]
        ),
    ]
)
