#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fault injection for the crash tests (Tests/CLITests). With `IRZOO_TEST_PAUSE_AT=STEP`, the
/// command stops at STEP: it creates the file named by `IRZOO_TEST_PAUSE_MARKER` (if set), then
/// sleeps `IRZOO_TEST_PAUSE_SECONDS` (default 60) so the test can `kill -9` it there, or run
/// another command beside it. Steps: loaded, staged, writing, written, locked, intent, blob,
/// manifest (import), removed (rm) and image-written (after each image of a batch run).
enum TestHooks {
    static func pause(at step: String) {
        let env = Terminal.environment
        guard env["IRZOO_TEST_PAUSE_AT"] == step else { return }
        if let marker = env["IRZOO_TEST_PAUSE_MARKER"] {
            let fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 { close(fd) }
        }
        let seconds = env["IRZOO_TEST_PAUSE_SECONDS"].flatMap { UInt32($0) } ?? 60
        sleep(seconds)
    }
}
