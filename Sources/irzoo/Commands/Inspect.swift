import ArgumentParser
import IRFormat
import IRTensor

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint or .irw file holds: format, wrapper, tensors, parameters, bytes.")

    @Argument(help: "A torch (.pth/.pt/.ckpt), TorchScript, safetensors, HDF5 or .irw file, a diffusers/transformers folder, or a shard index.")
    var file: String

    @OptionGroup var printing: JSONOutput

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        let src = try SourceFile.open(try SourceLocation.locate(file, variant: reading.variant),
                                      select: reading.select, permissive: reading.permissive)
        if printing.json {
            Terminal.printJSON(document(src))
            return
        }
        var lines = [
            "file:        \(file)",
            "format:      \(src.format.rawValue)" + (src.irw.map { " \($0.version)" } ?? ""),
            "wrapper:     \(src.wrapper ?? "none")",
            "tensors:     \(src.tensors.count)",
            "parameters:  \(Terminal.grouped(src.parameterCount))",
            "bytes:       \(Terminal.grouped(src.totalBytes)) (\(Terminal.bytes(src.totalBytes)))",
        ]
        if let irw = src.irw {
            let m = irw.metadata
            lines += [
                "digest:      \(irw.digest)",
                "architecture: \(m.architecture)" + (m.variant.map { " (\($0))" } ?? ""),
            ]
            if let made = m.provenance {
                lines += ["source:      \(made.source.fileName) (\(made.source.container), sha256 \(made.source.sha256))",
                          "converter:   \(made.converter), \(made.created)"]
            } else {
                lines.append("source:      not in the file (format \(irw.version) holds content only; an installed model's record has it: irzoo show)")
            }
            if !m.keyMapping.isEmpty { lines.append("key mapping: " + m.keyMapping.joined(separator: "; ")) }
            for n in m.notes { lines.append("note:        \(n)") }
        }
        if let hub = src.hub {
            lines.append("weights:     " + hub.weightFiles.map { DurableFile.fileName(of: $0) }.joined(separator: ", "))
            if let config = hub.configPath { lines.append("config:      \(config)") }
        }
        for (k, v) in src.containerMetadata.sorted(by: { $0.key < $1.key }) { lines.append("metadata:    \(k) = \(v)") }
        for n in src.notes { lines.append("note:        \(n)") }
        for i in src.ignored { lines.append("ignored:     \(i)") }
        Terminal.say(lines: lines)
        Terminal.say("")
        print(Terminal.table(["NAME", "DTYPE", "SHAPE"], src.tensors.map { [$0.name, $0.dtype.rawValue, Terminal.shape($0.shape)] }))
    }

    func document(_ src: SourceFile) -> JSON {
        var fields: [(String, JSON)] = [
            ("file", .string(file)),
            ("format", .string(src.format.rawValue)),
            ("wrapper", .stringOrNull(src.wrapper)),
            ("tensors", .array(src.tensors.map { t in
                .object([("name", .string(t.name)), ("dtype", .string(t.dtype.rawValue)), ("shape", .array(t.shape.map { .int($0) }))])
            })),
            ("parameters", .int(src.parameterCount)),
            ("bytes", .int(src.totalBytes)),
            ("ignored", .array(src.ignored.map { .string($0) })),
            ("notes", .array(src.notes.map { .string($0) })),
            ("metadata", .object(src.containerMetadata.sorted(by: { $0.key < $1.key }).map { ($0.key, JSON.string($0.value)) })),
        ]
        if let hub = src.hub {
            fields.append(("weights", .array(hub.weightFiles.map { JSON.string($0) })))
            fields.append(("config", .stringOrNull(hub.configPath)))
            fields.append(("variant", .stringOrNull(hub.variant)))
        }
        if let irw = src.irw {
            fields.append(("irw", .object([
                ("version", .string(irw.version)),
                ("digest", .string(irw.digest)),
                ("header", irw.header.json),
            ])))
        }
        return .object(fields)
    }
}
