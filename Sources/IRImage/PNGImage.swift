import CIRImage
import Foundation
import IRTensor

/// An image as the networks see it: float32 planes (CHW) in [0, 1], colour apart from alpha.
/// Alpha is kept aside so a restored image can be written back with the input's alpha.
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var colorChannels: Int
    /// `colorChannels` planes of `height * width` values, row-major, in [0, 1].
    public var color: [Float]
    /// One plane, or nil when the image has no alpha.
    public var alpha: [Float]?
    /// Bits per sample as stored (8 or 16); writing keeps it unless told otherwise.
    public var bitDepth: Int

    public init(width: Int, height: Int, colorChannels: Int, color: [Float], alpha: [Float]? = nil, bitDepth: Int = 8) throws {
        guard colorChannels == 1 || colorChannels == 3 else {
            throw ImageIOError(file: nil, reason: "an image has 1 (gray) or 3 (RGB) colour channels, not \(colorChannels)")
        }
        let (plane, overflow) = width.multipliedReportingOverflow(by: height)
        guard width > 0, height > 0, !overflow, plane <= Int(PNGCodec.maxPixels) else {
            throw ImageIOError(file: nil, reason: "bad image size \(width)x\(height)")
        }
        guard color.count == plane * colorChannels else {
            throw ImageIOError(file: nil, reason: "\(color.count) colour values do not fill \(colorChannels) planes of \(width)x\(height)")
        }
        if let alpha, alpha.count != plane {
            throw ImageIOError(file: nil, reason: "\(alpha.count) alpha values do not fill one \(width)x\(height) plane")
        }
        guard bitDepth == 8 || bitDepth == 16 else { throw ImageIOError(file: nil, reason: "bit depth \(bitDepth) is not 8 or 16") }
        self.width = width
        self.height = height
        self.colorChannels = colorChannels
        self.color = color
        self.alpha = alpha
        self.bitDepth = bitDepth
    }

    public var pixelCount: Int { width * height }

    /// Three planes for an RGB network: a gray image's plane repeated.
    public func rgbPlanes() -> [Float] {
        colorChannels == 3 ? color : color + color + color
    }

    /// The result of a network that ran on `rgbPlanes()`, in this image's layout: gray again
    /// (the mean of the three planes) when the input was gray, and this image's alpha re-attached.
    public func withRestoredColor(rgb planes: [Float]) throws -> PNGImage {
        guard planes.count == 3 * pixelCount else {
            throw ImageIOError(file: nil, reason: "restored image has \(planes.count) values, expected 3 planes of \(width)x\(height)")
        }
        var color = planes
        if colorChannels == 1 {
            let n = pixelCount
            color = (0..<n).map { (planes[$0] + planes[n + $0] + planes[2 * n + $0]) / 3 }
        }
        return try PNGImage(width: width, height: height, colorChannels: colorChannels, color: color, alpha: alpha, bitDepth: bitDepth)
    }
}

/// A PNG that could not be read or written: one line naming the file and the reason.
public struct ImageIOError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public var reason: String

    public init(file: String?, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
}

/// PNG read and write through libpng: gray, gray+alpha, RGB, RGBA; 8 and 16 bit (palette and
/// 1/2/4-bit files are expanded to 8 bit). Samples are taken as stored, without gamma changes.
public enum PNGCodec {
    /// Images above this many pixels are refused before any pixel memory is allocated.
    public static let maxPixels: UInt64 = 1 << 28

    public static func read(path: String) throws -> PNGImage {
        let file: ByteBuffer
        do { file = try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw ImageIOError(file: path, reason: e.reason)
        }
        return try file.whole.withUnsafeBytes { try decode($0, name: path) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String? = nil) throws -> PNGImage {
        var decoded = irimage_decoded()
        var message = [CChar](repeating: 0, count: 512)
        let status = bytes.withMemoryRebound(to: UInt8.self) { b in
            irimage_png_decode(b.baseAddress, b.count, maxPixels, &decoded, &message, message.count)
        }
        guard status == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageIOError(file: name, reason: text)
        }
        defer { irimage_free(decoded.pixels) }
        let w = Int(decoded.width), h = Int(decoded.height), c = Int(decoded.channels), depth = Int(decoded.bit_depth)
        let n = w * h
        let colorChannels = c >= 3 ? 3 : 1
        let hasAlpha = c == 2 || c == 4
        var color = [Float](repeating: 0, count: n * colorChannels)
        var alpha: [Float]? = hasAlpha ? [Float](repeating: 0, count: n) : nil
        let raw = UnsafeRawPointer(decoded.pixels!)
        // Divide (not multiply by 1/255): the same float numpy's `x / 255.` gives, bit for bit.
        let maxValue: Float = depth == 16 ? 65535 : 255
        for i in 0..<n {
            for ch in 0..<c {
                let index = i * c + ch
                let sample = depth == 16 ? Float(raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                                         : Float(raw.load(fromByteOffset: index, as: UInt8.self))
                if ch < colorChannels { color[ch * n + i] = sample / maxValue } else { alpha![i] = sample / maxValue }
            }
        }
        return try PNGImage(width: w, height: h, colorChannels: colorChannels, color: color, alpha: alpha, bitDepth: depth)
    }

    /// PNG bytes for `image` at `bitDepth` (default: the image's). Values are clamped to [0, 1] and
    /// rounded half to even, as numpy's round() does in BasicSR's tensor2img; NaN is written as 0.
    public static func encode(_ image: PNGImage, bitDepth: Int? = nil) throws -> [UInt8] {
        let depth = bitDepth ?? image.bitDepth
        guard depth == 8 || depth == 16 else { throw ImageIOError(file: nil, reason: "cannot write \(depth)-bit PNG (8 or 16)") }
        let n = image.pixelCount
        let c = image.colorChannels + (image.alpha == nil ? 0 : 1)
        let maxValue: Float = depth == 16 ? 65535 : 255
        var samples = [UInt8](repeating: 0, count: n * c * depth / 8)
        samples.withUnsafeMutableBytes { dst in
            for i in 0..<n {
                for ch in 0..<c {
                    let v = ch < image.colorChannels ? image.color[ch * n + i] : image.alpha![i]
                    let q = quantize(v, maxValue)
                    if depth == 16 { dst.storeBytes(of: UInt16(q), toByteOffset: (i * c + ch) * 2, as: UInt16.self) }
                    else { dst[i * c + ch] = UInt8(q) }
                }
            }
        }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 512)
        let status = samples.withUnsafeBufferPointer { s in
            irimage_png_encode(s.baseAddress, UInt32(image.width), UInt32(image.height), Int32(c), Int32(depth),
                               &out, &size, &message, message.count)
        }
        guard status == 0, let out else {
            throw ImageIOError(file: nil, reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { irimage_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Writes atomically: a temporary file beside `path`, fsync'ed, then renamed over it.
    public static func write(_ image: PNGImage, to path: String, bitDepth: Int? = nil) throws {
        let bytes: [UInt8]
        do { bytes = try encode(image, bitDepth: bitDepth) } catch var e as ImageIOError {
            e.file = path
            throw e
        }
        try AtomicWrite.write(bytes, to: path)
    }

    /// `v` in [0, 1] as an integer sample, rounding half to even.
    @inline(__always) static func quantize(_ v: Float, _ maxValue: Float) -> Int {
        guard v.isFinite else { return v == .infinity ? Int(maxValue) : 0 }
        return Int((min(max(v, 0), 1) * maxValue).rounded(.toNearestOrEven))
    }
}

/// Write-to-temp, fsync, rename: a reader sees the old file or the new one, never half of one.
enum AtomicWrite {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = (dir as NSString).appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImageIOError(file: path, reason: "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        var written = 0
        let failure: String? = bytes.withUnsafeBytes { b -> String? in
            while written < b.count {
                let r = Glibc.write(fd, b.baseAddress! + written, b.count - written)
                if r < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                written += r
            }
            return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
        }
        close(fd)
        if let failure { throw ImageIOError(file: path, reason: "cannot write: \(failure)") }
        guard rename(tmp, path) == 0 else { throw ImageIOError(file: path, reason: "cannot rename into place: \(String(cString: strerror(errno)))") }
        ok = true
    }
}
