import CIRImage
import IRTensor

/// What a header says, read without decoding or allocating any pixel: what `--max-pixels` and an
/// upload limit are checked against before the real decode.
public struct ImageProbe: Sendable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (as decoded; before orientation, which may swap the sides).
    public var channels: Int
    public var bitDepth: Int
    public var pixelCount: Int { width * height }

    public init(format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
    }
}

/// A decoded file: the image upright (EXIF orientation applied, as PIL's `ImageOps.exif_transpose`)
/// and what must travel with it to the output.
public struct DecodedImage: Sendable {
    public var image: RasterImage
    public var format: ImageFormat
    /// The embedded ICC profile, byte for byte (no colour conversion is ever made).
    public var iccProfile: [UInt8]?
    /// The EXIF orientation the file declared (1-8); already applied to `image`.
    public var orientation: Int
}

/// How to write an image.
public struct EncodeOptions: Sendable, Equatable {
    /// JPEG and lossy WebP quality, 1-100.
    public var quality: Int
    /// PNG and TIFF bits per sample (nil: the image's own); JPEG and WebP are always 8-bit.
    public var bitDepth: Int?
    public var tiffCompression: TIFFCompression
    /// WebP only: lossless instead of lossy.
    public var lossless: Bool
    /// Written into the file unchanged (iCCP, APP2, the ICC tag, ICCP chunk).
    public var iccProfile: [UInt8]?

    public init(quality: Int = 95, bitDepth: Int? = nil, tiffCompression: TIFFCompression = .deflate, lossless: Bool = false,
                iccProfile: [UInt8]? = nil) {
        self.quality = quality
        self.bitDepth = bitDepth
        self.tiffCompression = tiffCompression
        self.lossless = lossless
        self.iccProfile = iccProfile
    }
}

/// The one entry point to every codec: read by content (the file's first bytes), write by format.
public enum ImageCodecs {
    public static func probe(path: String) throws -> ImageProbe {
        let file = try map(path)
        return try file.whole.withUnsafeBytes { try probe(bytes: $0, name: path) }
    }

    public static func probe(bytes: UnsafeRawBufferPointer, name: String? = nil) throws -> ImageProbe {
        let format = try sniff(bytes, name: name)
        var info = irimage_info()
        try call(name) { message, size in
            bytes.withMemoryRebound(to: UInt8.self) { b in
                switch format {
                case .png: irimage_png_probe(b.baseAddress, b.count, &info, message, size)
                case .jpeg: irimage_jpeg_probe(b.baseAddress, b.count, &info, message, size)
                case .tiff: irimage_tiff_probe(b.baseAddress, b.count, &info, message, size)
                case .webp: irimage_webp_probe(b.baseAddress, b.count, &info, message, size)
                }
            }
        }
        return ImageProbe(format: format, width: Int(info.width), height: Int(info.height), channels: Int(info.channels),
                          bitDepth: Int(info.bit_depth))
    }

    /// Decodes a file, refusing images over `maxPixels` before any pixel memory is allocated.
    public static func read(path: String, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> DecodedImage {
        let file = try map(path)
        return try file.whole.withUnsafeBytes { try decode(bytes: $0, name: path, maxPixels: maxPixels) }
    }

    public static func decode(bytes: UnsafeRawBufferPointer, name: String? = nil, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> DecodedImage {
        let format = try sniff(bytes, name: name)
        let limit = UInt64(max(0, min(maxPixels, ImageLimits.hardMaxPixels)))
        var decoded = irimage_decoded()
        try call(name) { message, size in
            bytes.withMemoryRebound(to: UInt8.self) { b in
                switch format {
                case .png: irimage_png_decode(b.baseAddress, b.count, limit, &decoded, message, size)
                case .jpeg: irimage_jpeg_decode(b.baseAddress, b.count, limit, &decoded, message, size)
                case .tiff: irimage_tiff_decode(b.baseAddress, b.count, limit, &decoded, message, size)
                case .webp: irimage_webp_decode(b.baseAddress, b.count, limit, &decoded, message, size)
                }
            }
        }
        defer { irimage_decoded_free(&decoded) }
        let icc = decoded.icc.map { Array(UnsafeBufferPointer(start: $0, count: decoded.icc_size)) }
        let orientation = (1...8).contains(Int(decoded.orientation)) ? Int(decoded.orientation) : 1
        let image = try SampleLayout.planes(decoded, orientation: orientation, name: name)
        return DecodedImage(image: image, format: format, iccProfile: icc, orientation: orientation)
    }

    /// The file bytes of `image` in `format`. Values are clamped to [0, 1] and rounded half to
    /// even (NaN as 0). JPEG drops alpha (it has none); WebP writes gray as RGB.
    public static func encode(_ image: RasterImage, as format: ImageFormat, options: EncodeOptions = EncodeOptions()) throws -> [UInt8] {
        let depth = format.bitDepths.count > 1 ? (options.bitDepth ?? image.bitDepth) : 8
        guard format.bitDepths.contains(depth) else {
            throw ImageIOError(file: nil, reason: "cannot write \(depth)-bit \(format.rawValue.uppercased()) (\(format.bitDepths.map(String.init).joined(separator: " or ")))")
        }
        guard (1...100).contains(options.quality) else { throw ImageIOError(file: nil, reason: "quality \(options.quality) is not 1-100") }
        let alpha = format.holdsAlpha && image.alpha != nil
        let rgb = format == .webp || image.colorChannels == 3
        let samples = SampleLayout.interleaved(image, rgb: rgb, alpha: alpha, bitDepth: depth)
        let channels = Int32((rgb ? 3 : 1) + (alpha ? 1 : 0))
        let (w, h) = (UInt32(image.width), UInt32(image.height))
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let icc = options.iccProfile ?? []
        try call(nil) { message, length in
            samples.withUnsafeBufferPointer { s in
                icc.withUnsafeBufferPointer { p in
                    let profile = p.isEmpty ? nil : p.baseAddress
                    switch format {
                    case .png:
                        return irimage_png_encode_icc(s.baseAddress, w, h, channels, Int32(depth), profile, p.count, &out, &size, message, length)
                    case .jpeg:
                        return irimage_jpeg_encode(s.baseAddress, w, h, channels, Int32(options.quality), profile, p.count, &out, &size, message, length)
                    case .tiff:
                        let scheme: Int32 = switch options.tiffCompression {
                        case .none: Int32(IRIMAGE_TIFF_NONE)
                        case .lzw: Int32(IRIMAGE_TIFF_LZW)
                        case .deflate: Int32(IRIMAGE_TIFF_DEFLATE)
                        }
                        return irimage_tiff_encode(s.baseAddress, w, h, channels, Int32(depth), scheme, profile, p.count, &out, &size, message, length)
                    case .webp:
                        return irimage_webp_encode(s.baseAddress, w, h, channels, Int32(options.quality), options.lossless ? 1 : 0,
                                                   profile, p.count, &out, &size, message, length)
                    }
                }
            }
        }
        guard let out else { throw ImageIOError(file: nil, reason: "\(format.rawValue) encoder returned no data") }
        defer { irimage_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// Encodes and writes atomically (temp file beside `path`, fsync, rename): `path` is the old
    /// file or the whole new one, never part of one. The format is `format`, else `path`'s extension.
    public static func write(_ image: RasterImage, to path: String, format: ImageFormat? = nil, options: EncodeOptions = EncodeOptions()) throws {
        guard let format = format ?? ImageFormat(extensionOf: path) else {
            throw ImageIOError(file: path, reason: "no image format for this extension (.png, .jpg, .tif, .webp; or say --format)")
        }
        let bytes: [UInt8]
        do { bytes = try encode(image, as: format, options: options) } catch var e as ImageIOError {
            e.file = path
            throw e
        }
        try AtomicWrite.write(bytes, to: path)
    }

    static func map(_ path: String) throws -> ByteBuffer {
        do { return try ByteBuffer.map(path: path) } catch let e as IOFailure {
            throw ImageIOError(file: path, reason: e.reason)
        }
    }

    static func sniff(_ bytes: UnsafeRawBufferPointer, name: String?) throws -> ImageFormat {
        guard let format = ImageFormat.sniff(bytes) else {
            let what = bytes.isEmpty ? "an empty file" : "not an image irzoo reads"
            throw ImageIOError(file: name, reason: "\(what) (PNG, JPEG, TIFF or WebP, recognised by their first bytes)")
        }
        return format
    }

    /// Runs a C codec call that writes a one-line reason into a buffer on failure.
    static func call(_ name: String?, _ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var message = [CChar](repeating: 0, count: 512)
        let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard status == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageIOError(file: name, reason: text.isEmpty ? "cannot be decoded" : text)
        }
    }
}
