import Foundation
import Hummingbird
import Logging

/// `irzoo serve`: the API under /api/ (docs/serve-openapi.json) and the page that uses it, on
/// Hummingbird. Every request passes `RequestGuard` first.
public struct ServeServer: Sendable {
    public let configuration: ServeConfiguration
    let engine: any JobEngine
    let queue: JobQueue
    let folder: PrivateFolder
    let port: BoundPort

    public init(configuration: ServeConfiguration, engine: any JobEngine) throws {
        self.configuration = try configuration.validated()
        self.engine = engine
        self.queue = JobQueue(engine: engine, capacity: configuration.queueCapacity, keepFinished: configuration.keepFinished)
        self.folder = try PrivateFolder(under: configuration.temporaryRoot)
        self.port = BoundPort(configuration.port)
    }

    /// Serves until SIGINT/SIGTERM (or the task is cancelled), then removes the private folder.
    /// `onReady` gets the bound port once the socket listens.
    public func run(logLevel: Logger.Level = .warning, onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        defer { folder.remove() }
        let router = Router()
        router.add(middleware: RequestGuard(host: configuration.host, port: port, token: configuration.token))
        router.add(middleware: AllowedMethods())
        PageRoutes.add(to: router)
        APIRoutes(configuration: configuration, engine: engine, queue: queue, folder: folder).add(to: router)

        var logger = Logger(label: "irzoo-serve")
        logger.logLevel = logLevel
        let port = self.port
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "irzoo",
                                 // Many clients at once (1000 submissions in the tests) must queue, not be refused.
                                 backlog: 1024),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                port.value = bound
                onReady(bound)
            },
            logger: logger)
        do {
            try await app.runService()
        } catch {
            throw ServeError.startup("cannot serve on \(configuration.host):\(configuration.port): \(error)")
        }
    }
}

extension ServeServer {
    /// The API's version (docs/serve-openapi.json `info.version`).
    public static let version = "1.0.0"
}
