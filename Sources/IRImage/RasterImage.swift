import Foundation
import IRTensor

/// An image as the networks see it: float32 planes (CHW) in [0, 1], colour apart from alpha.
/// Alpha is kept aside so a restored image can be written back with the input's alpha. Every
/// codec (PNG, JPEG, TIFF, WebP) reads into and writes from this one shape.
public struct RasterImage: Sendable, Equatable {
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
        guard width > 0, height > 0, !overflow, plane <= Int(ImageLimits.hardMaxPixels) else {
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
    public func withRestoredColor(rgb planes: [Float]) throws -> RasterImage {
        guard planes.count == 3 * pixelCount else {
            throw ImageIOError(file: nil, reason: "restored image has \(planes.count) values, expected 3 planes of \(width)x\(height)")
        }
        var color = planes
        if colorChannels == 1 {
            let n = pixelCount
            color = (0..<n).map { (planes[$0] + planes[n + $0] + planes[2 * n + $0]) / 3 }
        }
        return try RasterImage(width: width, height: height, colorChannels: colorChannels, color: color, alpha: alpha, bitDepth: bitDepth)
    }
}

/// An image that could not be read or written: one line naming the file and the reason.
public struct ImageIOError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public var reason: String

    public init(file: String?, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
}

/// Write-to-temp, fsync, rename: a reader sees the old file or the new one, never half of one.
/// On Linux the temp file is unnamed (O_TMPFILE) until it is whole, so even `kill -9` mid-write
/// leaves nothing behind; it gets a name only to be renamed over `path`.
enum AtomicWrite {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = (dir as NSString).appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        var named = false
        var fd: Int32 = -1
        #if os(Linux)
        fd = open(dir, O_WRONLY | O_CLOEXEC | 0o20000000 | O_DIRECTORY, 0o644)  // O_TMPFILE (__O_TMPFILE | O_DIRECTORY)
        #endif
        if fd < 0 {  // a file system without O_TMPFILE: a named temp file
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            named = true
        }
        guard fd >= 0 else { throw ImageIOError(file: path, reason: "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok && named { unlink(tmp) }
        }
        var written = 0
        var failure: String? = bytes.withUnsafeBytes { b -> String? in
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
        if failure == nil && !named {
            // The whole file gets its temp name, then the rename puts it in place.
            if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0 { named = true } else {
                failure = "cannot name the written file: \(String(cString: strerror(errno)))"
            }
        }
        close(fd)
        if let failure { throw ImageIOError(file: path, reason: "cannot write: \(failure)") }
        guard rename(tmp, path) == 0 else { throw ImageIOError(file: path, reason: "cannot rename into place: \(String(cString: strerror(errno)))") }
        ok = true
    }
}

/// The name this type had while PNG was the only format; kept so code written against it builds.
public typealias PNGImage = RasterImage
