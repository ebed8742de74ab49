#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHDF5
import IRTensor

/// Runs libhdf5 in a forked child so that a crafted file cannot take irzoo down with it.
///
/// The child reads the file and writes the result into an anonymous in-memory file as a
/// safetensors blob (tensors in order; wrapper, notes, ignored and metadata as JSON in
/// `__metadata__`), or an error record, then exits. The parent treats that blob as untrusted:
/// it goes through the strict safetensors parser, and the tensors stay zero-copy views of it.
/// A crash (signal), a CPU runaway (RLIMIT_CPU) or a hang (wall clock) in the child becomes a
/// one-line error naming the file.
enum HDF5Isolation {
    static let resultKey = "irzoo.hdf5"
    static let errorExit: Int32 = 3
    /// Exit status the child uses when a sanitizer (fuzzing builds) reports a memory error.
    static let sanitizerExit: Int32 = 86

    static func read(path: String, options: HDF5Reader.Options, sourceBytes: Int,
                     open: () throws -> HDF5TreeReader) throws -> LoadedCheckpoint {
        let fd = try resultFile(path, inMemory: sourceBytes <= options.inMemoryResultLimit)
        defer { close(fd) }
        // Fork under the libhdf5 lock: the child gets a consistent libhdf5 and never locks again.
        let pid: pid_t = HDF5Library.locked {
            let pid = fork()
            if pid == 0 { child(fd: fd, path: path, cpuSeconds: options.cpuSeconds, open: open) }
            return pid
        }
        guard pid > 0 else { throw CheckpointError(file: path, reason: "cannot start the HDF5 reader process: \(String(cString: strerror(errno)))") }
        let status = try wait(pid, path: path, wallSeconds: options.wallSeconds)

        let signal = status & 0x7F
        if signal != 0 {
            switch signal {
            case SIGXCPU:
                throw CheckpointError(file: path, reason: "reading used more than \(options.cpuSeconds) s of CPU (a crafted file can make libhdf5 loop); refused")
            case SIGKILL:
                throw CheckpointError(file: path, reason: "the HDF5 reader process was killed (out of memory?)")
            default:
                throw CheckpointError(file: path, reason: "libhdf5 crashed (\(signalName(signal))) reading this file: it is corrupt or crafted; refused")
            }
        }
        let code = (status >> 8) & 0xFF
        let result: ByteBuffer
        do { result = try ByteBuffer.map(path: "/proc/self/fd/\(fd)") } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: "cannot read the HDF5 reader's result: \(e.reason)")
        }
        switch code {
        case 0: return try decodeResult(result, path: path)
        case errorExit: throw decodeError(result, path: path)
        case sanitizerExit: throw CheckpointError(file: path, reason: "libhdf5 crashed (memory error) reading this file: it is corrupt or crafted; refused")
        default: throw CheckpointError(file: path, reason: "the HDF5 reader process failed (exit status \(code))")
        }
    }

    // MARK: - Child

    private static func child(fd: Int32, path: String, cpuSeconds: Int, open: () throws -> HDF5TreeReader) -> Never {
        prepareChild(cpuSeconds: cpuSeconds)
        // libhdf5's own allocations on crafted metadata must not exhaust the machine: first a
        // budget for parsing, then one sized to the largest dataset to read.
        limitAddressSpace(extra: 4 << 30)
        do {
            var reader = try open()
            let plan = try reader.makePlan()
            let largest = plan.tensors.map(\.byteCount).max() ?? 0
            limitAddressSpace(extra: max(4 << 30, largest > Int.max / 3 ? Int.max : 3 * largest))
            let info = JSON.object([
                ("wrapper", .stringOrNull(plan.wrapper)),
                ("ignored", .array(plan.ignored.map { .string($0) })),
                ("notes", .array(plan.notes.map { .string($0) })),
                ("metadata", .object(plan.metadata.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })),
            ]).serialized()
            let header = try SafetensorsWriter.headerBytes(layout: plan.tensors.map { ($0.key, $0.dtype, $0.shape) },
                                                           path: path, metadata: [resultKey: info])
            var n = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &n) { try writeAll(fd, $0) }
            try header.withUnsafeBytes { try writeAll(fd, $0) }
            for p in plan.tensors {
                let bytes = try reader.load(p)
                try bytes.whole.withUnsafeBytes { try writeAll(fd, $0) }
            }
            _exit(0)
        } catch {
            let e = error as? CheckpointError ?? CheckpointError(file: path, reason: "\(error)")
            let record = JSON.object([
                ("entry", .stringOrNull(e.entry)),
                ("reason", .string(e.reason)),
                ("offset", e.offset.map { JSON.int($0) } ?? .null),
            ]).serializedBytes()
            _ = ftruncate(fd, 0)
            _ = lseek(fd, 0, SEEK_SET)
            _ = try? record.withUnsafeBytes { try writeAll(fd, $0) }
            _exit(errorExit)
        }
    }

    private static func prepareChild(cpuSeconds: Int) {
        // Nothing of the child's should reach the user's terminal: libhdf5 is already silenced,
        // this also covers sanitizer reports in fuzzing builds.
        let devnull = Glibc.open("/dev/null", O_WRONLY)
        if devnull >= 0 { dup2(devnull, 2); close(devnull) }
        // A crash must end the child with its signal, not run handlers inherited from the parent.
        for sig in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGXCPU, SIGSYS, SIGTRAP] { signal(sig, SIG_DFL) }
        // In sanitizer builds a memory error ends in the sanitizer's death callback (the fuzzer's
        // crash report): make it a plain exit of the child instead.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__sanitizer_set_death_callback") {
            typealias SetDeathCallback = @convention(c) (@convention(c) () -> Void) -> Void
            unsafeBitCast(symbol, to: SetDeathCallback.self)({ _exit(HDF5Isolation.sanitizerExit) })
        }
        var limit = rlimit(rlim_cur: rlim_t(cpuSeconds), rlim_max: rlim_t(cpuSeconds + 5))
        _ = setrlimit(Int32(RLIMIT_CPU.rawValue), &limit)
    }

    /// Caps the child's address space at its current size plus `extra` bytes (soft limit only).
    /// Skipped in sanitizer builds, which reserve terabytes of shadow memory up front.
    private static func limitAddressSpace(extra: Int) {
        guard dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__sanitizer_set_death_callback") == nil else { return }
        guard let statm = fopen("/proc/self/statm", "r") else { return }
        defer { fclose(statm) }
        guard let pages = readLeadingInt(statm) else { return }
        let current = pages.multipliedReportingOverflow(by: Int(sysconf(Int32(_SC_PAGESIZE)))).partialValue
        let (cap, overflow) = current.addingReportingOverflow(extra)
        guard !overflow else { return }
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = min(rlim_t(cap), limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
    }

    /// Reads the decimal number at the start of a stream (fscanf is variadic: Swift cannot call it).
    private static func readLeadingInt(_ f: UnsafeMutablePointer<FILE>) -> Int? {
        var value = 0, digits = 0
        while true {
            let c = getc(f)
            guard c >= 48 && c <= 57 else { break }
            value = value &* 10 &+ Int(c - 48)
            digits += 1
        }
        return digits > 0 && digits < 19 ? value : nil
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, min(bytes.count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(file: "<hdf5 result>", reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    // MARK: - Parent

    /// An anonymous file for the child's result: a memfd, or an unlinked temp file in $TMPDIR
    /// (else /var/tmp, else /tmp) when the result may be large or memfd is missing.
    private static func resultFile(_ path: String, inMemory: Bool) throws -> Int32 {
        if inMemory {
            let fd = irzoo_memfd("irzoo-hdf5")
            if fd >= 0 { return fd }
        }
        var dirs = ["/var/tmp", "/tmp"]
        if let t = getenv("TMPDIR") { dirs.insert(String(cString: t), at: 0) }
        var lastError = ""
        for dir in dirs {
            var template = Array("\(dir)/irzoo-hdf5-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd < 0 { lastError = "\(dir): \(String(cString: strerror(errno)))"; continue }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return fd
        }
        throw CheckpointError(file: path, reason: "cannot create a scratch file for the HDF5 reader (\(lastError))")
    }

    private static func wait(_ pid: pid_t, path: String, wallSeconds: Int) throws -> Int32 {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var pause = timespec(tv_sec: 0, tv_nsec: 200_000)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return status }
            if r < 0 && errno != EINTR {
                throw CheckpointError(file: path, reason: "lost the HDF5 reader process: \(String(cString: strerror(errno)))")
            }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if now.tv_sec - start.tv_sec > wallSeconds {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                throw CheckpointError(file: path, reason: "reading took longer than \(wallSeconds) s; stopped")
            }
            nanosleep(&pause, nil)
            pause.tv_nsec = min(pause.tv_nsec * 2, 20_000_000)
        }
    }

    private static func signalName(_ s: Int32) -> String {
        switch s {
        case SIGSEGV: return "SIGSEGV"
        case SIGBUS: return "SIGBUS"
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGFPE: return "SIGFPE"
        default: return "signal \(s)"
        }
    }

    /// The child's blob is untrusted: strict safetensors parsing, then strict JSON for the rest.
    private static func decodeResult(_ result: ByteBuffer, path: String) throws -> LoadedCheckpoint {
        func malformed(_ why: String) -> CheckpointError {
            CheckpointError(file: path, reason: "the HDF5 reader process returned a malformed result (\(why))")
        }
        let table: LoadedCheckpoint
        do { table = try SafetensorsReader.read(file: result, path: path) } catch let e as CheckpointError {
            throw malformed(e.reason)
        }
        guard let text = table.metadata[resultKey], let info = (try? JSON.parse(text))?.objectValue else {
            throw malformed("no result record")
        }
        func strings(_ key: String) throws -> [String] {
            guard let items = info[key]?.arrayValue else { throw malformed("\(key) is not a list") }
            return try items.map { guard let s = $0.stringValue else { throw malformed("\(key) holds a non-string") }; return s }
        }
        var metadata: [String: String] = [:]
        guard let meta = info["metadata"]?.objectValue else { throw malformed("metadata is not an object") }
        for (k, v) in meta.members {
            guard let s = v.stringValue else { throw malformed("metadata holds a non-string") }
            metadata[k] = s
        }
        let wrapper = info["wrapper"]?.stringValue
        return LoadedCheckpoint(format: .hdf5, wrapper: wrapper, tensors: table.tensors,
                                ignored: try strings("ignored"), notes: try strings("notes"), metadata: metadata)
    }

    private static func decodeError(_ result: ByteBuffer, path: String) -> CheckpointError {
        guard let record = (try? result.whole.withUnsafeBytes { try JSON.parse($0) })?.objectValue,
              let reason = record["reason"]?.stringValue else {
            return CheckpointError(file: path, reason: "the HDF5 reader process failed without saying why")
        }
        return CheckpointError(file: path, entry: record["entry"]?.stringValue, reason: reason, offset: record["offset"]?.intValue)
    }
}
