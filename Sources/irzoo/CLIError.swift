import ArgumentParser
import IRCheckpoint
import IRDistribution
import IRFormat
import IRRegistry
import IRStore

/// Exit statuses (docs/CLI.md, "Exit status"). Each failure class has its own, so scripts can
/// tell a damaged model from a typo.
enum ExitStatus: Int32 {
    case ok = 0
    /// Verification found damage, or the command failed for another reason.
    case failure = 1
    /// Bad arguments or options.
    case usage = 2
    /// The input file cannot be read or is refused (truncated, hostile, unknown format).
    case unreadableInput = 3
    /// The tensors do not match the architecture's inventory (import with --arch).
    case inventoryMismatch = 4
    /// The store refused: no such model, or the name is taken by other weights.
    case store = 5
    /// Writing failed (disk full, `ulimit -f`, permissions); nothing was left behind.
    case writeFailed = 6
}

/// An error the CLI reports as one line with a chosen exit status.
struct CLIError: Error, CustomStringConvertible {
    let status: ExitStatus
    let message: String
    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
    var description: String { message }
}

enum ErrorReport {
    /// The exit status and one-line message for any error a command throws.
    static func classify(_ error: Error) -> (ExitStatus, String) {
        switch error {
        case let e as CLIError:
            return (e.status, e.message)
        case let e as CheckpointError:
            return (.unreadableInput, e.description)
        case let e as IRWError:
            switch e.kind {
            case .invalidInput: return (.failure, e.description)
            default: return (.unreadableInput, e.description)
            }
        case let e as InventoryMismatchError:
            return (.inventoryMismatch, InventoryReportText.headline(e))
        case let e as FileWriteError:
            return (.writeFailed, e.description)
        case let e as DistributionError:
            switch e.kind {
            case .usage: return (.usage, e.description)
            case .notFound: return (.store, e.description)
            case .refused: return (.unreadableInput, e.description)
            case .denied, .registry: return (.failure, e.description)
            }
        case let e as StoreError:
            switch e.kind {
            case .notFound, .nameTaken: return (.store, e.description)
            case .invalidName: return (.usage, e.description)
            case .unreadable: return (.failure, e.description)
            case .io: return (.writeFailed, e.description)
            }
        default:
            return (.failure, "\(error)")
        }
    }

    /// Prints "irzoo: error: MESSAGE" as a single line on stderr and returns the status. An
    /// inventory mismatch adds a bounded excerpt of its report on the following lines.
    static func report(_ error: Error) -> ExitStatus {
        let (status, message) = classify(error)
        let oneLine = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        Terminal.printError("irzoo: error: \(Terminal.escaped(oneLine))")
        if let e = error as? InventoryMismatchError {
            for line in InventoryReportText.excerpt(e.report) { Terminal.printError("  " + Terminal.escaped(line)) }
        }
        return status
    }
}
