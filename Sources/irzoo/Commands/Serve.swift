import ArgumentParser
import Foundation
import IRJobs
import IRServe

/// `irzoo serve`: a local page to restore images and compare before and after, and the JSON API
/// it uses (docs/serve-openapi.json). Loopback only unless --host says otherwise, and then only
/// with --token.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a local web page (and its JSON API) to restore images and compare before and after.",
        discussion: """
            Binds to 127.0.0.1 by default and answers only requests whose Host and Origin are its own. \
            --host 0.0.0.0 (or any non-loopback address) makes it reachable from other machines: it then \
            requires --token, checked on every request. Uploads go to a private temp folder that is removed \
            on exit. See docs/CLI.md and docs/SERVE.md.
            """)

    @Option(name: .long, help: "Port to listen on (0: any free port, printed at start).")
    var port: Int = 8080

    @Option(name: .long, help: "Address to bind (default loopback). A non-loopback address requires --token.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "A secret every request must carry (Authorization: Bearer TOKEN, or open /?token=TOKEN once). Also read from $IRZOO_SERVE_TOKEN.")
    var token: String?

    @Option(name: .long, help: "Largest upload (image and reference together) in MiB.")
    var maxUploadMb: Int = 256

    @Option(name: .long, help: "Largest image in megapixels (width x height), refused from its header before decoding.")
    var maxMegapixels: Int = 64

    @Option(name: .long, help: "Jobs waiting or running at once; one more is answered 429.")
    var queue: Int = 64

    @Option(name: .long, help: "Finished jobs kept for status and download (with their files); older ones are removed.")
    var keepFinished: Int = 256

    @Option(name: .long, help: "Memory a job's forward pass may take, as `irzoo run --max-memory` (e.g. 4G); larger images run in tiles. Default: the engine's.")
    var maxMemory: String?

    @Option(name: .long, help: "Worker threads per job (default: every core).")
    var threads: Int?

    func validate() throws {
        if maxUploadMb < 1 { throw ValidationError("--max-upload-mb must be at least 1") }
        if maxMegapixels < 1 { throw ValidationError("--max-megapixels must be at least 1") }
        if queue < 1 { throw ValidationError("--queue must be at least 1") }
        if keepFinished < 0 { throw ValidationError("--keep-finished cannot be negative") }
        if let maxMemory, SystemMemory.parse(maxMemory) == nil { throw ValidationError("--max-memory \(maxMemory): expected bytes, or a size such as 8G or 512M") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        _ = try StoreAccess.open()  // sweeps a crashed command's leftovers, and says now when no store can be found
        let token = self.token ?? Terminal.environment["IRZOO_SERVE_TOKEN"]
        let configuration = ServeConfiguration(host: host, port: port, token: token, maxUploadBytes: maxUploadMb << 20,
                                               maxPixels: maxMegapixels * 1_000_000, queueCapacity: queue,
                                               keepFinished: keepFinished)
        let server: ServeServer
        do {
            server = try ServeServer(configuration: configuration, engine: ServeRunEngine(threads: threads, maxMemory: maxMemory))
        } catch let e as ServeError {
            throw CLIError(.usage, e.description)
        }
        if !ServeConfiguration.isLoopback(host) {
            Terminal.printError("irzoo serve: warning: listening on \(host), reachable from other machines; every request must carry the token")
        }
        let shownHost = ServeConfiguration.isWildcard(host) ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        let outcome = ServeOutcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { bound in
                    let entry = token == nil ? "" : "?token=\(token!)"
                    Terminal.say("irzoo serve: http://\(shownHost):\(bound)/\(entry)  (API: /api/, docs/serve-openapi.json; Ctrl-C stops)")
                    fflush(stdout)
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let e = outcome.error { throw CLIError(.failure, "\(e)") }
    }
}

/// The server task's error, handed to the waiting command thread.
private final class ServeOutcome: @unchecked Sendable {
    var error: Error?
}
