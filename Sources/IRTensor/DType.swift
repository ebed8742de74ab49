/// Element types a checkpoint can carry. Raw values are the spellings used in
/// `irzoo inspect --json` and in the .irw header.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64: return true
        default: return false
        }
    }

    /// The safetensors spelling ("F32", "BF16", "BOOL", ...).
    public var safetensorsName: String {
        switch self {
        case .bool: return "BOOL"
        default: return rawValue.uppercased()
        }
    }

    public init?(safetensorsName: String) {
        if safetensorsName == "BOOL" { self = .bool; return }
        guard let d = DType(rawValue: safetensorsName.lowercased()), d != .bool else { return nil }
        self = d
    }
}

/// Shape arithmetic that never traps: every product is overflow-checked,
/// because shapes come from untrusted files.
public enum ShapeMath {
    /// Number of elements, or nil on a negative dimension or overflow.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Bytes for `shape` of `dtype`, or nil on overflow.
    public static func byteCount(_ shape: [Int], _ dtype: DType) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        let (b, o) = n.multipliedReportingOverflow(by: dtype.size)
        return o ? nil : b
    }
}
