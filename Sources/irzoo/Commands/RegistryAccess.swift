#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Dispatch
import IRDistribution
import IRRegistry
import IRStore
import IRTensor

/// Options shared by `push` and `pull`.
struct RegistryOptions: ParsableArguments {
    @Flag(name: .long, help: "Allow plain HTTP to a registry that is not on loopback (loopback registries always use it).")
    var insecure = false

    @OptionGroup var printing: JSONOutput
}

/// The registry client for a reference: credentials from the environment or docker's config,
/// retries from IRZOO_REGISTRY_ATTEMPTS, extra CA certificates from IRZOO_REGISTRY_CA_FILE, notices (retries, fallbacks) on stderr.
enum RegistryAccess {
    static func client(for reference: OCIReference) throws -> RegistryClient {
        let env = Terminal.environment
        let credentials = try RegistryCredentials.lookup(registry: reference.registry, environment: env)
        var retry = RetryPolicy()
        if let a = env["IRZOO_REGISTRY_ATTEMPTS"] {
            guard let n = Int(a), n >= 1 else { throw CLIError(.usage, "IRZOO_REGISTRY_ATTEMPTS must be a positive integer (got '\(a)')") }
            retry.attempts = n
        }
        let caFile = env["IRZOO_REGISTRY_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        if let caFile { try RegistryClient.checkCAFile(caFile) }
        let client = RegistryClient(reference: reference, credentials: credentials, retry: retry, extraCAFile: caFile)
        client.notice = { Terminal.printError("irzoo: note: " + $0) }
        return client
    }

    /// Runs async registry work from a synchronous command and waits for it.
    static func wait<T>(_ client: RegistryClient, _ body: @escaping () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            await client.shutdown()
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// One progress bar per phase (hashing, uploading, downloading, verifying), each labelled.
    static func progress(_ label: String) -> @Sendable (ModelTransfer.Phase, Int, Int) -> Void {
        final class Bars: @unchecked Sendable {
            var current: (ModelTransfer.Phase, ProgressReporter)?
            let lock = NSLockLike()
        }
        let bars = Bars()
        return { phase, done, total in
            bars.lock.locked {
                if bars.current?.0 != phase {
                    bars.current?.1.finish()
                    bars.current = (phase, ProgressReporter(label: "\(label): \(phase.rawValue)", total: total))
                }
                bars.current!.1.update(done)
                if done >= total { bars.current!.1.finish() }
            }
        }
    }

    static func blobJSON(_ b: ModelTransfer.BlobReport) -> JSON {
        var members: [(String, JSON)] = [("role", .string(b.role)), ("digest", .string(b.digest)), ("size", .int(b.size)),
                                         ("action", .string(b.action)), ("bytes", .int(b.bytes))]
        if let d = b.irwDigest { members.append(("irw_digest", .string(d))) }
        if let r = b.resumedAt { members.append(("resumed_at", .int(r))) }
        if let r = b.resumes { members.append(("resumes", .int(r))) }
        if let r = b.restarts { members.append(("restarts", .int(r))) }
        if let f = b.mountedFrom { members.append(("mounted_from", .string(f))) }
        return .object(members)
    }

    static func rate(_ bytes: Int, _ seconds: Double) -> String {
        seconds > 0 && bytes > 0 ? " (\(Terminal.format(Double(bytes) / seconds / 1e6, 1)) MB/s)" : ""
    }
}

/// Carries an async result back to the waiting thread.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A pthread mutex with a closure API (Foundation-free, like the rest of the CLI).
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}
