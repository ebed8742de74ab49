import CZlib
import Dispatch
import IRKernels
import IRTensor
#if canImport(Glibc)
import Glibc
#endif

/// Raw-deflate decompression into a buffer of exactly the declared size: a stream that would
/// produce more is a bomb, one that produces less is corrupt.
enum ZipInflate {
    static func inflate(_ src: ByteView, size: Int, file: String, entry: String) throws -> ByteBuffer {
        func fail(_ reason: String) -> CheckpointError { CheckpointError(file: file, entry: PickleRender.printable(entry), reason: reason) }
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        // Not zero-filled: pages a lying stream never reaches are never committed.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
        do {
            try inflate(into: UnsafeMutableRawBufferPointer(start: raw, count: size), from: src, stream: &stream, fail)
        } catch {
            raw.deallocate()
            throw error
        }
        return ByteBuffer.adopting(raw, count: size)
    }

    private static func inflate(into out: UnsafeMutableRawBufferPointer, from src: ByteView, stream: inout z_stream,
                                _ fail: (String) -> CheckpointError) throws {
        let size = out.count
        var inPos = 0, outPos = 0
        let input = src.pointer.assumingMemoryBound(to: UInt8.self)
        var ended = false
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { scratch.deallocate() }
        while !ended {
            // zlib counts in 32 bits: feed at most 1 GiB at a time.
            let inChunk = min(src.count - inPos, 1 << 30), outChunk = min(size - outPos, 1 << 30)
            stream.next_in = UnsafeMutablePointer(mutating: input + inPos)
            stream.avail_in = UInt32(inChunk)
            if outChunk > 0 {
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self) + outPos
                stream.avail_out = UInt32(outChunk)
            } else {
                // The declared size is reached: one more byte of output means a bomb.
                stream.next_out = scratch
                stream.avail_out = 1
            }
            let ret = CZlib.inflate(&stream, Z_NO_FLUSH)
            let consumed = inChunk - Int(stream.avail_in)
            let produced = (outChunk > 0 ? outChunk : 1) - Int(stream.avail_out)
            inPos += consumed
            if outChunk == 0 && produced > 0 {
                throw fail("inflates past its declared \(size) bytes (zip bomb?)")
            }
            outPos += outChunk > 0 ? produced : 0
            switch ret {
            case Z_STREAM_END:
                ended = true
            case Z_OK:
                break
            case Z_BUF_ERROR where consumed == 0 && produced == 0:
                throw fail(inPos >= src.count ? "deflate data ends early (truncated)" : "deflate data makes no progress")
            case Z_BUF_ERROR:
                break
            default:
                throw fail("corrupt deflate data (zlib error \(ret))")
            }
        }
        guard outPos == size else {
            throw fail("inflates to \(outPos) bytes, not the declared \(size)")
        }
    }
}

/// CRC-32, folded with carry-less multiplication where the CPU has it (IRKernels, ~3x zlib 1.2's
/// tables) and with zlib otherwise, split across cores for large inputs (combined with
/// crc32_combine), so checking a multi-GiB archive costs a fraction of reading it.
public enum ZipCRC {
    /// Large inputs go through in blocks of this size; each block is split across cores.
    static let block = 64 << 20

    /// The CRC-32 of `view`. With `releasingPages`, each block of a file mapping leaves the
    /// process's resident set once checked, so verifying a huge archive keeps RSS near one block.
    public static func checksum(_ view: ByteView, releasingPages: Bool = false) -> UInt32 {
        var crc: UInt = 0
        var done = 0
        while done < view.count {
            let n = min(block, view.count - done)
            // One madvise maps the block's pages instead of a page fault per 4 KiB.
            view.buffer.prefetchResidentPages(offset: view.offset + done, count: n)
            let part = parallel(view.pointer + done, n)
            crc = done == 0 ? part : UInt(crc32_combine(uLong(crc), uLong(part), n))
            if releasingPages { view.buffer.releaseResidentPages(offset: view.offset + done, count: n) }
            done += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        var crc: UInt = 0
        var done = 0
        while done < bytes.count {
            let n = min(block, bytes.count - done)
            let part = parallel(base + done, n)
            crc = done == 0 ? part : UInt(crc32_combine(uLong(crc), uLong(part), n))
            done += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// One pass of plain zlib on the calling thread (the reference the split, folded version is
    /// tested against).
    public static func checksumSerial(_ view: ByteView) -> UInt32 {
        view.withUnsafeBytes { b in
            guard let base = b.baseAddress, b.count > 0 else { return 0 }
            return UInt32(truncatingIfNeeded: crc32_z(0, base.assumingMemoryBound(to: UInt8.self), b.count))
        }
    }

    /// zlib's crc32_z, with the longest prefix the CPU can fold done by IRKernels.
    static func foldedCRC32(_ initial: UInt, _ p: UnsafePointer<UInt8>, _ n: Int) -> UInt {
        var folded = UInt32(truncatingIfNeeded: initial)
        let done = irk_crc32_prefix(&folded, p, n)
        return UInt(crc32_z(uLong(folded), p + done, n - done))
    }

    private static let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    private static func parallel(_ base: UnsafeRawPointer, _ n: Int) -> UInt {
        let p = base.assumingMemoryBound(to: UInt8.self)
        let parts = min(cores, n / (8 << 20))
        guard parts > 1 else { return foldedCRC32(0, p, n) }
        let chunk = (n + parts - 1) / parts
        let results = UnsafeMutablePointer<UInt>.allocate(capacity: parts)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let start = i * chunk
            results[i] = foldedCRC32(0, p + start, min(chunk, n - start))
        }
        var crc = results[0]
        for i in 1 ..< parts {
            crc = UInt(crc32_combine(uLong(crc), uLong(results[i]), min(chunk, n - i * chunk)))
        }
        return crc
    }
}
