import CZlib

/// gzip (RFC 1952) decompression of a small file held in memory, such as the CLIP BPE
/// vocabulary open_clip ships as `bpe_simple_vocab_16e6.txt.gz`. Output past `limit` bytes is
/// refused (a bomb); concatenated members are read one after another, as gunzip does.
public enum Gzip {
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b }

    /// The decompressed bytes; throws a `CheckpointError` naming `file` on corrupt or oversized data.
    public static func decompress(_ bytes: [UInt8], limit: Int = 64 << 20, file: String) throws -> [UInt8] {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(file: file, reason: reason) }
        guard isGzip(bytes) else { throw fail("not gzip data (no 1f 8b signature)") }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var inPos = 0
        try bytes.withUnsafeBufferPointer { src in
            while inPos < src.count {
                var stream = z_stream()
                // 16 + MAX_WBITS: a gzip header and trailer (CRC-32 and length checked by zlib).
                guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                    throw fail("zlib could not start")
                }
                defer { inflateEnd(&stream) }
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress! + inPos)
                stream.avail_in = UInt32(min(src.count - inPos, Int(UInt32.max)))
                var ended = false
                while !ended {
                    let ret = chunk.withUnsafeMutableBufferPointer { c -> Int32 in
                        stream.next_out = c.baseAddress
                        stream.avail_out = UInt32(c.count)
                        return CZlib.inflate(&stream, Z_NO_FLUSH)
                    }
                    let produced = chunk.count - Int(stream.avail_out)
                    guard out.count + produced <= limit else { throw fail("decompresses past \(limit) bytes") }
                    out.append(contentsOf: chunk[0..<produced])
                    switch ret {
                    case Z_STREAM_END: ended = true
                    case Z_OK: break
                    case Z_BUF_ERROR where produced == 0: throw fail("gzip data ends early (truncated)")
                    case Z_BUF_ERROR: break
                    default: throw fail("corrupt gzip data (zlib error \(ret))")
                    }
                }
                inPos = src.count - Int(stream.avail_in)
                // Trailing zero padding after the last member is tolerated, as gunzip does.
                if src[inPos...].allSatisfy({ $0 == 0 }) { break }
            }
        }
        return out
    }
}
