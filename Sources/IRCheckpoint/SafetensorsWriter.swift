import IRTensor

/// Writes a tensor table as a safetensors file that the Python `safetensors` package (and our
/// reader) loads with identical values.
///
/// Layout choices:
/// - Tensors are written **in the order given** (the reference writer sorts by descending dtype
///   alignment, then name; readers accept any order because offsets are explicit). Keeping the
///   caller's order means a converted file lists its tensors as the source did.
/// - The JSON header is compact, `__metadata__` first (keys sorted), and padded with spaces to a
///   multiple of 8 bytes as the reference writer does, so the data section starts 8-aligned.
///   Tensors follow back to back (the format allows no gaps), so a tensor after an odd-sized
///   u8/i8/bool/f16 tensor may start unaligned; readers that need alignment copy.
/// - Streaming: one tensor at a time straight from its view (conversions go through a small
///   scratch buffer), into a temp file beside the output, fsync, rename. On any error no output
///   file is left behind. After each tensor the source pages of a mapped file leave the resident
///   set (they come back from the page cache if touched again), so peak memory stays near the
///   largest tensor however big the file.
public enum SafetensorsWriter {
    /// `metadata` defaults to `{"format": "pt"}`, which transformers' `from_pretrained` requires.
    /// `durable: false` skips the fsync. `beforeCommit` runs after the last byte, before the rename.
    /// `progress` is called after each tensor with the data bytes written so far and in total.
    public static func write(_ tensors: [TensorRecord], to path: String,
                             dtype conversion: DTypeConversion = .keep,
                             metadata: [String: String] = ["format": "pt"],
                             durable: Bool = true,
                             progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                             beforeCommit: () throws -> Void = {}) throws {
        let header = try headerBytes(tensors, path: path, conversion: conversion, metadata: metadata)
        let out: AtomicFileWriter
        do { out = try AtomicFileWriter(destination: path, durable: durable) } catch let e as IOFailure {
            throw CheckpointError(file: path, reason: e.reason)
        }
        var current: String? = nil
        let total = tensors.reduce(0) { $0 + (ShapeMath.byteCount($1.shape, conversion.target(for: $1.dtype)) ?? 0) }
        var done = 0
        do {
            var n = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &n) { try out.write($0) }
            try out.write(header)
            for t in tensors {
                current = t.name
                let target = conversion.target(for: t.dtype)
                if target == t.dtype && t.data.buffer.isFileMapping {
                    // Bytes already as written, in a mapped file: the kernel copies them from that
                    // file (buffer offsets are file offsets), as cp does.
                    try out.copyRange(from: t.data.buffer.fileDescriptor, offset: t.data.offset, count: t.data.count,
                                      sameBytes: t.data.pointer)
                } else if target == t.dtype {
                    try t.data.withUnsafeBytes { try out.write($0) }
                } else {
                    try DTypeConversion.stream(t.data, from: t.dtype, to: target, count: t.elementCount) { try out.write($0) }
                }
                // Done with this tensor's source pages: keeps peak RSS near one tensor when
                // converting a mapped file (a no-op for heap buffers).
                t.data.buffer.releaseResidentPages(offset: t.data.offset, count: t.data.count)
                done += t.elementCount * target.size
                progress?(done, total)
            }
            current = nil
            // Last word before the output appears (e.g. deferred CRC checks of the source): a
            // throw here leaves nothing behind.
            try beforeCommit()
            try out.commit()
        } catch let e as IOFailure {
            out.abandon()
            throw CheckpointError(file: path, entry: current, reason: e.reason)
        } catch {
            out.abandon()
            throw error
        }
    }

    /// The JSON header, space-padded to a multiple of 8 bytes. Validates names and sizes first,
    /// so nothing is created for a table that cannot be written.
    public static func headerBytes(_ tensors: [TensorRecord], path: String = "<memory>",
                                   conversion: DTypeConversion = .keep,
                                   metadata: [String: String] = [:]) throws -> [UInt8] {
        try headerBytes(layout: tensors.map { ($0.name, conversion.target(for: $0.dtype), $0.shape) },
                        path: path, metadata: metadata)
    }

    /// The header for tensors described by name, dtype (as written) and shape, back to back in
    /// the given order: for writers that stream data they have not read yet.
    public static func headerBytes(layout: [(name: String, dtype: DType, shape: [Int])], path: String = "<memory>",
                                   metadata: [String: String] = [:]) throws -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            first = false
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(JSON.quote($0)):\(JSON.quote(metadata[$0]!))" }
                .joined(separator: ",")
            json += "}"
        }
        var seen = Set<String>()
        var offset = 0
        for (name, dtype, shape) in layout {
            guard name != "__metadata__" else {
                throw CheckpointError(file: path, entry: name, reason: "a tensor cannot be named __metadata__ in safetensors")
            }
            guard seen.insert(name).inserted else {
                throw CheckpointError(file: path, entry: name, reason: "duplicate tensor name")
            }
            guard let bytes = ShapeMath.byteCount(shape, dtype) else {
                throw CheckpointError(file: path, entry: name, reason: "shape \(shape) overflows")
            }
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow else { throw CheckpointError(file: path, entry: name, reason: "total size overflows") }
            if !first { json += "," }
            first = false
            json += JSON.quote(name)
            json += ":{\"dtype\":\"\(dtype.safetensorsName)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        let padded = (bytes.count + 7) / 8 * 8
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - bytes.count))
        guard bytes.count <= SafetensorsHeader.maxHeaderLength else {
            throw CheckpointError(file: path, reason: "header would be \(bytes.count) bytes, over the 100 MB safetensors limit")
        }
        return bytes
    }
}
