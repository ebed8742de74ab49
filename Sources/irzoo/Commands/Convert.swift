import ArgumentParser
import IRCheckpoint
import IRFormat
import IRTensor

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to .irw or .safetensors (chosen by the output's extension).")

    @Argument(help: "The input: any file `irzoo inspect` reads.")
    var file: String

    @Option(name: .shortAndLong, help: "The output file: OUT.irw or OUT.safetensors. Written atomically.")
    var output: String

    @Option(name: .long, help: "keep, f32, f16 or bf16: the dtype of floating tensors (integer and bool tensors are kept).")
    var dtype: String = "keep"

    @Flag(name: .customLong("no-fsync"), help: "For .safetensors output: skip the fsync (faster; the rename is still atomic, but a power failure may lose the file).")
    var noFsync = false

    @OptionGroup var printing: JSONOutput

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        let conversion = try DTypeConversion.option(dtype)
        let lower = output.lowercased()
        guard lower.hasSuffix(".irw") || lower.hasSuffix(".safetensors") else {
            throw CLIError(.usage, "the output must end in .irw or .safetensors (got '\(output)')")
        }
        let started = Terminal.now()
        // For .irw, hash the source on another core while the reader parses (and CRC-checks) it.
        let location = try SourceLocation.locate(file, variant: reading.variant)
        let sourceDigest = lower.hasSuffix(".irw") ? SourceDigest(location) : nil
        defer { sourceDigest?.stop() }
        // For .safetensors, the CRCs of large zip members are checked on another core while the
        // kernel copies them, and the output is renamed into place only when all of them match.
        let toSafetensors = lower.hasSuffix(".safetensors")
        let src = try SourceFile.open(location, select: reading.select, permissive: reading.permissive, deferLargeCRC: toSafetensors)
        var digest: String? = nil
        var made: IRWProvenance? = nil
        var written = 0
        if toSafetensors {
            let checks = src.deferred.start()
            defer { _ = try? checks.wait() }
            try SafetensorsWriter.write(src.tensors, to: output, dtype: conversion, durable: !noFsync,
                                        beforeCommit: { try checks.wait() })
            written = DurableFile.size(of: output) ?? 0
        } else {
            let mapping = try Importer.map(src, Importer.Request(path: file, variant: reading.variant, dtype: conversion))
            let inputs = mapping.tensors.map { conversion.input($0.record, sourceName: $0.sourceName) }
            let progress = ProgressReporter(label: "convert", total: inputs.reduce(0) { $0 + (ShapeMath.byteCount($1.shape, $1.dtype) ?? 0) })
            let result = try IRWWriter.write(inputs, metadata: {
                let (sha, size) = try sourceDigest!.wait()
                return Importer.metadataRecord(source: src, mapping: mapping, sha256: sha, size: size, dtype: conversion)
            }, to: output) { done, _ in progress.update(done) }
            progress.finish()
            digest = result.digest
            made = result.header.metadata.provenance // not in the file (format 1.1): said here instead
            written = result.fileSize
        }
        let seconds = Terminal.now() - started
        if printing.json {
            Terminal.printJSON(.object([
                ("input", .string(file)), ("output", .string(output)),
                ("format", .string(lower.hasSuffix(".irw") ? "irw" : "safetensors")),
                ("dtype", .string(conversion.rawValue)),
                ("tensors", .int(src.tensors.count)), ("bytes", .int(written)),
                ("digest", .stringOrNull(digest)), ("seconds", .double(seconds)),
            ] + (made.map { [("source", $0.source.json), ("key_mapping", .array($0.keyMapping.map { .string($0) })),
                         ("notes", .array($0.notes.map { .string($0) }))] } ?? [])))
        } else {
            var line = "wrote \(output): \(src.tensors.count) tensors, \(Terminal.bytes(written))"
            if let digest { line += ", digest \(digest)" }
            Terminal.say(line + " (\(Terminal.format(seconds, 2)) s)")
            if let s = made?.source { Terminal.say("from \(s.fileName) (\(s.container), sha256 \(s.sha256)); the .irw holds content only, so the same weights always give this digest") }
        }
    }
}
