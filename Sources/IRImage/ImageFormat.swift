/// The file formats irzoo reads and writes, each through its C library.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png, jpeg, tiff, webp

    /// The format an output path asks for by its extension (`.jpg`/`.jpeg`, `.tif`/`.tiff`, ...).
    public init?(extensionOf path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "png": self = .png
        case "jpg", "jpeg", "jpe", "jfif": self = .jpeg
        case "tif", "tiff": self = .tiff
        case "webp": self = .webp
        default: return nil
        }
    }

    /// `--format` values: the format names and their usual extensions.
    public init?(name: String) {
        switch name.lowercased() {
        case "png": self = .png
        case "jpeg", "jpg": self = .jpeg
        case "tiff", "tif": self = .tiff
        case "webp": self = .webp
        default: return nil
        }
    }

    /// The format of a file, from its first bytes (never from its name).
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && magic.indices.allSatisfy { bytes[offset + $0] == magic[$0] }
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) || starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) {
            return .tiff
        }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
        return nil
    }

    /// The extension written for this format (`photo.jpg`).
    public var preferredExtension: String {
        switch self {
        case .png: "png"
        case .jpeg: "jpg"
        case .tiff: "tif"
        case .webp: "webp"
        }
    }

    /// Bits per sample the format can hold.
    public var bitDepths: [Int] { self == .png || self == .tiff ? [8, 16] : [8] }

    /// Whether the format keeps an alpha plane.
    public var holdsAlpha: Bool { self != .jpeg }
}

/// TIFF compression when writing (all are lossless).
public enum TIFFCompression: String, Sendable, CaseIterable {
    case none, lzw, deflate
}

/// Limits applied before any pixel memory is allocated.
public enum ImageLimits {
    /// Default `--max-pixels`: PIL's decompression-bomb error threshold (2 x 89,478,485 pixels).
    public static let defaultMaxPixels = 178_956_970
    /// No image above this is ever held (2^30 pixels: 12 GiB of float planes for RGB).
    public static let hardMaxPixels = 1 << 30
}
