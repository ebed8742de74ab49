// swift-tools-version:6.1
import PackageDescription

// System libraries come from Debian's -dev packages; `make deps` installs them.
let package = Package(
    name: "irzoo",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "irzoo", targets: ["irzoo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // HTTP client for `push`/`pull` (issue 16); brings SwiftNIO, whose HTTP/1 codec the test servers use too.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // `irzoo serve` (issue 17): the HTTP server, without its swift-configuration trait (not used, a longer clean build).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // multipart/form-data uploads for `irzoo serve`.
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // TLS settings for `push`/`pull` (extra CA certificates); already a dependency of async-http-client.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
    ],
    targets: [
        // C libraries, through module maps.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // Hot loops in C, dispatched per CPU at run time.
        .target(name: "IRKernels", path: "Sources/IRKernels",
                cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        .target(name: "IRTensor", dependencies: ["COpenSSL"]),
        .target(name: "IRCheckpoint", dependencies: ["IRTensor", "CZlib", "CHDF5", "IRKernels"]),
        .target(name: "IRFormat", dependencies: ["IRTensor"]),
        .target(name: "IRRuntime", dependencies: ["IRTensor", "IRKernels"]),
        // Zoo/*.json is the one source of the registered models; the EmbedZoo plugin compiles it in at build time.
        .target(name: "IRRegistry", dependencies: ["IRTensor"], plugins: ["EmbedZoo"]),
        .executableTarget(name: "ZooEmbedder"),
        .plugin(name: "EmbedZoo", capability: .buildTool(), dependencies: ["ZooEmbedder"]),
        // PNG, JPEG, TIFF, WebP and EXIF through libpng, libjpeg-turbo, libtiff, libwebp and libexif.
        // C shims own each library's error path (longjmp, handlers) and return codes instead.
        .target(name: "CIRImage", dependencies: ["CPNG"], path: "Sources/CIRImage", linkerSettings: [
            .linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("tiff"), .linkedLibrary("webp"),
            .linkedLibrary("webpmux"), .linkedLibrary("webpdemux"), .linkedLibrary("exif"),
        ]),
        .target(name: "IRImage", dependencies: ["CIRImage", "CPNG", "IRTensor"]),
        .target(name: "IRModels", dependencies: ["IRTensor", "IRRuntime", "IRRegistry"]),
        .target(name: "IRStore", dependencies: ["IRTensor", "IRFormat"]),
        // The restoration job engine: decode, plan memory, run (tiled when needed), encode, write; progress events.
        .target(name: "IRJobs", dependencies: ["IRImage", "IRModels", "IRRuntime", "IRRegistry", "IRTensor"]),
        // OCI registries: references, auth, chunked/resumable blob transfer, model artifacts <-> store blobs.
        .target(name: "IRDistribution", dependencies: [
            "IRStore", "IRFormat", "IRTensor",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // `irzoo serve`: HTTP API + the embedded page over the job engine and the store (docs/SERVE.md).
        .target(name: "IRServe", dependencies: [
            "IRStore", "IRRegistry", "IRTensor",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ], resources: [.embedInCode("Page/index.html"), .embedInCode("Page/app.js"), .embedInCode("Page/app.css")]),
        .executableTarget(name: "irzoo", dependencies: [
            "IRTensor", "IRCheckpoint", "IRFormat", "IRRegistry", "IRRuntime", "IRModels", "IRStore", "CPNG", "IRImage", "IRJobs", "IRDistribution", "IRServe",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // `make bench-ops`: the runtime's core operators, timed (Benchmarks/ops.sh compares with PyTorch).
        .executableTarget(name: "irzoo-bench", dependencies: ["IRRuntime", "IRTensor"], path: "Benchmarks/Sources/irzoo-bench"),
        // `make bench-store`: .irw open, first-tensor and verify timings (Benchmarks/store.sh).
        .executableTarget(name: "irzoo-store-bench", dependencies: ["IRFormat", "IRTensor"], path: "Benchmarks/Sources/irzoo-store-bench"),

        .target(name: "IRTestSupport", path: "Tests/IRTestSupport"),
        .testTarget(name: "IRTensorTests", dependencies: ["IRTensor", "IRTestSupport"]),
        .testTarget(name: "IRCheckpointTests", dependencies: ["IRTestSupport", "IRCheckpoint", "IRTensor"]),
        .testTarget(name: "IRFormatTests", dependencies: ["IRTestSupport", "IRFormat", "IRTensor"]),
        .testTarget(name: "IRStoreTests", dependencies: ["IRTestSupport", "IRStore", "IRFormat", "IRTensor"]),
        .testTarget(name: "IRRuntimeTests", dependencies: ["IRTestSupport", "IRRuntime", "IRTensor"]),
        .testTarget(name: "IRModelsTests", dependencies: ["IRTestSupport", "IRModels", "IRRegistry", "IRRuntime", "IRTensor", "IRCheckpoint"]),
        .testTarget(name: "IRRegistryTests", dependencies: ["IRTestSupport", "IRRegistry", "IRModels", "IRTensor", "IRCheckpoint"]),
        .testTarget(name: "IRImageTests", dependencies: ["IRTestSupport", "IRImage", "IRTensor", "IRCheckpoint"]),
        .testTarget(name: "IRJobsTests", dependencies: ["IRTestSupport", "IRJobs", "IRImage", "IRModels", "IRRuntime", "IRTensor"]),
        .testTarget(name: "IRDistributionTests", dependencies: ["IRTestSupport", "IRDistribution", "IRStore", "IRTensor"]),
        // The registry tests start Debian's docker-registry and small NIO servers of their own
        // (token service, fault-injecting proxy, blob host), and sign tokens with libcrypto.
        .testTarget(name: "CLITests", dependencies: [
            "IRTestSupport", "irzoo", "IRFormat", "IRTensor", "IRCheckpoint", "IRImage", "COpenSSL",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "ServeTests", dependencies: ["IRTestSupport", "irzoo", "IRServe", "IRImage", "IRTensor", "IRCheckpoint"]),
    ],
    swiftLanguageModes: [.v5]
)
