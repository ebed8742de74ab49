import IRRegistry
import IRTensor

/// How `irzoo import --arch ID` shows a checkpoint that does not fit ID: a one-line error with the
/// counts, then at most `linesPerKind` lines of each kind of problem on the next lines (a checkpoint
/// of a different architecture has hundreds); `--json` prints every line of the report.
enum InventoryReportText {
    static let linesPerKind = 10

    static func headline(_ e: InventoryMismatchError) -> String {
        "\(e.file): does not fit \(e.modelID): \(e.report.summary)"
    }

    static func excerpt(_ r: InventoryReport) -> [String] {
        var out = r.lines(limit: linesPerKind)
        if r.matched == 0 {
            out.append("no tensor matches: is this checkpoint another architecture? Without --arch, `irzoo import` detects it")
        }
        if max(r.missing.count, r.unexpected.count, r.mismatched.count) > linesPerKind {
            out.append("(add --json for the full report)")
        }
        return out
    }

    /// `import --json` on a mismatch: every missing, unexpected and mis-shaped tensor.
    static func document(_ e: InventoryMismatchError) -> JSON {
        let r = e.report
        func shape(_ s: [Int]) -> JSON { .array(s.map { .int($0) }) }
        return .object([
            ("status", .string("inventory-mismatch")),
            ("file", .string(e.file)), ("architecture", .string(e.modelID)),
            ("summary", .string(r.summary)), ("matched", .int(r.matched)),
            ("missing", .array(r.missing.map { .object([("name", .string($0.name)), ("expected", shape($0.shape))]) })),
            ("unexpected", .array(r.unexpected.map {
                .object([("name", .string($0.name)), ("shape", shape($0.shape)), ("dtype", .string($0.dtype.rawValue))])
            })),
            ("mis_shaped", .array(r.mismatched.map {
                .object([("name", .string($0.name)), ("expected", shape($0.expected)), ("found", shape($0.found)),
                         ("dtype", .string($0.foundDType.rawValue))])
            })),
        ])
    }
}
