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
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // Transport: the only module that calls amqp_*.
        .target(name: "AMQP", dependencies: ["CRabbitMQ"]),
        // Wire format: envelopes and codecs, bytes in, typed values out.
        .target(
            name: "Wire", dependencies: [.product(name: "CompressNIO", package: "compress-nio")],
            swiftSettings: x86VectorFlags
        ),
        // Learning: tensors, layers, training, datasets, partitions, metrics. The only user of CBLAS.
        .target(
            name: "Learning",
            dependencies: ["CBLAS", .product(name: "CompressNIO", package: "compress-nio")],
            swiftSettings: x86VectorFlags
        ),
        // Aggregation: staleness, strategies, server optimizers. Pure math, no I/O.
        .target(name: "Aggregation"),
        // Roles over a Transport: client, worker, coordinator, evaluator; embedded broker.
        .target(
            name: "Pipeline",
            dependencies: ["AMQP", "Wire", "Learning", "Aggregation", .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // Metrics: swift-metrics on a Prometheus registry, served on /metrics.
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The command line: parse options, build the role, run it.
        .target(
            name: "FedqCLI",
            dependencies: [
                "AMQP", "Wire", "Learning", "Aggregation", "Pipeline", "Telemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            // The codec benchmark's axpy reference is compiled like the kernels it is compared with.
            swiftSettings: x86VectorFlags
        ),
        .executableTarget(name: "fedq", dependencies: ["FedqCLI"]),

        // Test helpers every test target shares: the test broker node, child processes.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning"]),
        .testTarget(name: "AggregationTests", dependencies: ["Aggregation"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "AMQP", "Wire", "TestSupport"]),
        .testTarget(
            name: "FedqCLITests",
            dependencies: [
                "FedqCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ]
)
