/// PNG read and write through libpng: gray, gray+alpha, RGB, RGBA; 8 and 16 bit (palette and
/// 1/2/4-bit files are expanded to 8 bit). Samples are taken as stored, without gamma changes.
/// The PNG door into `ImageCodecs` (which reads every format), kept for PNG-only callers.
public enum PNGCodec {
    /// Images above this many pixels are refused before any pixel memory is allocated.
    public static let maxPixels: UInt64 = 1 << 28

    public static func read(path: String) throws -> RasterImage {
        let file = try ImageCodecs.map(path)
        return try file.whole.withUnsafeBytes { try decode($0, name: path) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String? = nil) throws -> RasterImage {
        guard ImageFormat.sniff(bytes) == .png else {
            throw ImageIOError(file: name, reason: "not a PNG file (the first 8 bytes are not the PNG signature)")
        }
        return try ImageCodecs.decode(bytes: bytes, name: name, maxPixels: Int(maxPixels)).image
    }

    /// PNG bytes for `image` at `bitDepth` (default: the image's). Values are clamped to [0, 1] and
    /// rounded half to even, as numpy's round() does in BasicSR's tensor2img; NaN is written as 0.
    public static func encode(_ image: RasterImage, bitDepth: Int? = nil) throws -> [UInt8] {
        try ImageCodecs.encode(image, as: .png, options: EncodeOptions(bitDepth: bitDepth))
    }

    /// Writes atomically: a temporary file beside `path`, fsync'ed, then renamed over it.
    public static func write(_ image: RasterImage, to path: String, bitDepth: Int? = nil) throws {
        try ImageCodecs.write(image, to: path, format: .png, options: EncodeOptions(bitDepth: bitDepth))
    }
}
