import IRRuntime

/// UniRestorer's router input exactly as upstream `inference.py` makes it:
/// `process(Image.open(path))`, DA-CLIP's open_clip eval transform on the 8-bit PIL image:
///
/// 1. torchvision `Resize(S, BICUBIC)`: short side to S, long side `int(S * long / short)`, by
///    Pillow's separable resampler (bicubic a = −0.5, support scaled by the downscale factor,
///    22-bit fixed-point coefficients, horizontal pass first, **8-bit rounding and clamping between
///    the passes**);
/// 2. `CenterCrop(S)` with torchvision's `int(round((side − S) / 2))` offsets;
/// 3. `ToTensor()` (v / 255) and `Normalize` with OpenAI's mean and std.
///
/// The float image is first quantised to 8 bits (`round(clamp(x, 0, 1) · 255)`, half to even),
/// which returns a PNG's own values exactly. The tensor path (`CLIPPreprocess`, torchvision on
/// float tensors) differs from this by up to a few 8-bit steps, enough to flip close routes.
public struct DACLIPPreprocess: Sendable {
    public let size: Int
    public let mean: [Float]
    public let std: [Float]

    public init(size: Int, mean: [Float] = CLIPPreprocess.openAIMean, std: [Float] = CLIPPreprocess.openAIStd) {
        self.size = size
        self.mean = mean
        self.std = std
    }

    /// torchvision `_compute_resized_output_size` for an int size (multiply, then divide, then truncate).
    public static func resizedSize(height h: Int, width w: Int, size: Int) -> (height: Int, width: Int) {
        let (short, long) = w <= h ? (w, h) : (h, w)
        let newLong = Int((Double(size) * Double(long) / Double(short)).rounded(.towardZero))
        return w <= h ? (newLong, size) : (size, newLong)
    }

    /// [B, 3, H, W] in [0, 1] → normalised [B, 3, S, S].
    public func callAsFunction(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        guard image.rank == 4, image.shape[1] == mean.count else {
            throw ModelError("DA-CLIP preprocessing expects [B, \(mean.count), H, W], got \(image.shape)")
        }
        let (b, c, h, w) = (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
        guard h >= 1 && w >= 1 else { throw ModelError("DA-CLIP preprocessing: the image is empty (\(w)x\(h))") }
        let target = Self.resizedSize(height: h, width: w, size: size)
        let (pixels, overflow) = target.height.multipliedReportingOverflow(by: target.width)
        guard !overflow, pixels <= CLIPPreprocess.maxResizedPixels else {
            throw ModelError("DA-CLIP preprocessing: a \(w)x\(h) image would resize to \(target.width)x\(target.height); "
                             + "its aspect ratio is too extreme (at most \(CLIPPreprocess.maxResizedPixels) pixels before the crop)")
        }
        let horizontal = PILBicubic(inSize: w, outSize: target.width)
        let vertical = PILBicubic(inSize: h, outSize: target.height)
        let top = Int((Double(target.height - size) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(target.width - size) / 2).rounded(.toNearestOrEven))
        let out = try ctx.empty([b, c, size, size])
        let src = image.pointer, dst = out.mutablePointer
        for plane in 0..<(b * c) {
            var u8 = [UInt8](repeating: 0, count: h * w)
            let p = src + plane * h * w
            for i in 0..<(h * w) { u8[i] = UInt8((min(max(p[i], 0), 1) * 255).rounded(.toNearestOrEven)) }
            // Pillow skips a pass whose size does not change.
            if target.width != w { u8 = horizontal.resampleRows(u8, rows: h) }
            if target.height != h { u8 = vertical.resampleColumns(u8, columns: target.width) }
            let m = mean[plane % c], s = std[plane % c], d = dst + plane * size * size
            for y in 0..<size {
                for x in 0..<size {
                    d[y * size + x] = (Float(u8[(y + top) * target.width + x + left]) / 255 - m) / s
                }
            }
        }
        return out
    }
}

/// Pillow's 8-bit bicubic resampling along one axis (`precompute_coeffs`, `normalize_coeffs_8bpc`,
/// `ImagingResample{Horizontal,Vertical}_8bpc` in libImaging/Resample.c).
struct PILBicubic {
    static let precisionBits = 32 - 8 - 2
    let outSize: Int
    /// Per output index: first input index, and the fixed-point weights from there.
    let starts: [Int]
    let weights: [[Int32]]

    init(inSize: Int, outSize: Int) {
        self.outSize = outSize
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        var starts = [Int](), weights = [[Int32]]()
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = (0..<max(xmax, 0)).map { Self.cubic((Double($0 + xmin) - center + 0.5) * ss) }
            let total = k.reduce(0, +)
            if total != 0 { k = k.map { $0 / total } }
            let one = Double(1 << Self.precisionBits)
            starts.append(xmin)
            weights.append(k.map { Int32($0 < 0 ? -0.5 + $0 * one : 0.5 + $0 * one) })
        }
        self.starts = starts
        self.weights = weights
    }

    /// Keys' cubic with a = −0.5, as Pillow evaluates it.
    static func cubic(_ t: Double) -> Double {
        let a = -0.5, x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// `clip8`: the fixed-point sum to 0...255 (arithmetic shift, then clamp).
    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        UInt8(min(max(v >> Int32(precisionBits), 0), 255))
    }

    func sample(_ at: (Int) -> UInt8, _ o: Int) -> UInt8 {
        var s: Int32 = 1 << Int32(Self.precisionBits - 1)
        for (i, k) in weights[o].enumerated() { s &+= Int32(at(starts[o] + i)) &* k }
        return Self.clip8(s)
    }

    /// Each of `rows` rows (row-major, input width = the coefficients' input size) resampled.
    func resampleRows(_ a: [UInt8], rows: Int) -> [UInt8] {
        let inW = a.count / rows
        var out = [UInt8](repeating: 0, count: rows * outSize)
        a.withUnsafeBufferPointer { src in
            for r in 0..<rows {
                for x in 0..<outSize { out[r * outSize + x] = sample({ src[r * inW + $0] }, x) }
            }
        }
        return out
    }

    /// Each of `columns` columns resampled (input height = the coefficients' input size).
    func resampleColumns(_ a: [UInt8], columns: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outSize * columns)
        a.withUnsafeBufferPointer { src in
            for y in 0..<outSize {
                for x in 0..<columns { out[y * columns + x] = sample({ src[$0 * columns + x] }, y) }
            }
        }
        return out
    }
}
