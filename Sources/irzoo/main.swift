#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import IRFormat

// Exceeding `ulimit -f` must fail a write (EFBIG, reported and cleaned up), not kill us.
DurableFile.ignoreFileSizeSignal()

do {
    var command = try Irzoo.parseAsRoot()
    try command.run()
    exit(ExitStatus.ok.rawValue)
} catch let error as CLIError {
    exit(ErrorReport.report(error).rawValue)
} catch {
    // Help, version and usage errors come from ArgumentParser; everything else from the libraries.
    let code = Irzoo.exitCode(for: error)
    if code == .success {
        print(Irzoo.fullMessage(for: error))
        exit(ExitStatus.ok.rawValue)
    }
    if code == .validationFailure {
        Terminal.printError(Irzoo.fullMessage(for: error))
        exit(ExitStatus.usage.rawValue)
    }
    exit(ErrorReport.report(error).rawValue)
}
