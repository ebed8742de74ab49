#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHDF5
import IRTensor

/// HDF5 weight files through libhdf5: generic trees and the Keras layout.
///
/// - Generic: every numeric dataset reachable through hard links, in name order; the HDF5 path
///   becomes a dotted key (`a/b/c` -> `a.b.c`). Non-numeric datasets (strings, compounds, ...) are
///   listed in `ignored`.
/// - Keras (`model_weights` group, or `layer_names` at the root): layers in `layer_names` order,
///   each layer's weights in `weight_names` order (split attributes `layer_names0..N` joined),
///   keys `layer.weight` with the layer prefix of the weight name dropped
///   (`conv2d_1` + `conv2d_1/kernel:0` -> `conv2d_1.kernel:0`). Kernels are reported as stored
///   (Conv HWIO, Dense [in, out]) and a note says so; `model_config` is only scanned for `Lambda`
///   layers, whose code is never run.
///
/// Data is read into owned buffers as little-endian (libhdf5 converts big-endian datasets).
/// Soft and external links, external storage and virtual datasets are never followed: they can
/// point outside the file. libhdf5's error printing is silenced; failures become CheckpointError.
///
/// libhdf5 is large C code with a long CVE history and crashes on crafted files (our fuzzing
/// finds heap corruption in 1.10 within seconds), so by default it runs in a child process:
/// a crash or a runaway loop there becomes an error here, and what comes back is re-validated
/// by the strict safetensors parser (see HDF5Isolation.swift).
public enum HDF5Reader {
    public struct Options: Sendable {
        /// Read in a forked child process (default) or in this process.
        public var isolated: Bool
        /// CPU seconds the child may use before it is stopped (reading is I/O- and
        /// inflate-bound: minutes only for multi-GB compressed files).
        public var cpuSeconds: Int
        /// Wall-clock seconds before the child is killed.
        public var wallSeconds: Int
        /// Files up to this size hand their result back in memory (memfd); larger ones through
        /// an unlinked temp file on disk, whose pages the kernel can evict, so that weights
        /// larger than RAM still convert.
        public var inMemoryResultLimit: Int

        public init(isolated: Bool = true, cpuSeconds: Int = 1200, wallSeconds: Int = 3600,
                    inMemoryResultLimit: Int = 1 << 30) {
            self.isolated = isolated
            self.cpuSeconds = cpuSeconds
            self.wallSeconds = wallSeconds
            self.inMemoryResultLimit = inMemoryResultLimit
        }
    }

    public static func read(path: String, options: Options = Options()) throws -> LoadedCheckpoint {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw CheckpointError(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(file: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        return try run(path: path, options: options, sourceBytes: size) {
            var err = [CChar](repeating: 0, count: 256)
            let id = irzoo_h5_open(path, &err)
            guard id >= 0 else {
                throw CheckpointError(file: path, reason: "cannot open as HDF5: \(HDF5Library.message(err) ?? "unknown libhdf5 error")")
            }
            return HDF5TreeReader(path: path, file: H5Handle(id, H5Fclose), fileSize: size)
        }
    }

    /// Reads an HDF5 file held in memory (used by the fuzz target and for embedded `.h5` members).
    public static func read(image: UnsafeRawBufferPointer, name: String, options: Options = Options()) throws -> LoadedCheckpoint {
        guard let base = image.baseAddress, image.count > 0 else { throw CheckpointError(file: name, reason: "empty file") }
        return try run(path: name, options: options, sourceBytes: image.count) {
            var err = [CChar](repeating: 0, count: 256)
            let id = irzoo_h5_open_image(base, image.count, &err)
            guard id >= 0 else {
                throw CheckpointError(file: name, reason: "cannot open as HDF5: \(HDF5Library.message(err) ?? "unknown libhdf5 error")")
            }
            return HDF5TreeReader(path: name, file: H5Handle(id, H5Fclose), fileSize: image.count)
        }
    }

    private static func run(path: String, options: Options, sourceBytes: Int,
                            open: () throws -> HDF5TreeReader) throws -> LoadedCheckpoint {
        if options.isolated {
            return try HDF5Isolation.read(path: path, options: options, sourceBytes: sourceBytes, open: open)
        }
        return try HDF5Library.locked {
            var reader = try open()
            return try reader.readAll()
        }
    }
}

/// libhdf5 is built without thread safety (hdf5_serial): every call goes through one lock.
enum HDF5Library {
    private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    private static let setUp: Void = { irzoo_h5_silence() }()

    static func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        _ = setUp
        return try body()
    }

    /// The most specific message on libhdf5's error stack (clearing it), or nil when empty.
    static func takeError() -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        irzoo_h5_take_error(&buf)
        return message(buf)
    }

    static func message(_ buf: [CChar]) -> String? {
        let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return s.isEmpty ? nil : s
    }
}

/// An hid_t closed when the last reference goes away.
final class H5Handle {
    let id: hid_t
    private let close: (hid_t) -> herr_t
    init(_ id: hid_t, _ close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.close = close
    }
    deinit { _ = close(id) }
}
