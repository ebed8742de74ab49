import IRRuntime

/// The CLIP input pipeline SE-SymUNet runs on tensors (`_get_clip_features` upstream), which is
/// not HF's PIL-based `CLIPImageProcessor`:
///
/// 1. shortest edge to `size` with torchvision's tensor resize: bicubic, antialias, a = −0.5, and
///    its size arithmetic `int(long · (size / short))` in Python doubles (a 299×299 image becomes
///    223×224: the truncation quirk);
/// 2. center crop `size`×`size`: a short side is first zero-padded (extra row/column at the
///    bottom/right), offsets use Python's banker's rounding;
/// 3. `(x − mean) / std` per channel with OpenAI's float32 mean and std.
public struct CLIPPreprocess: Sendable {
    public static let openAIMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let openAIStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Largest resized image (before the center crop) accepted: 2^26 pixels, an aspect ratio of
    /// about 1300:1 at 224 px.
    public static let maxResizedPixels = 1 << 26

    public let size: Int
    public let mean: [Float]
    public let std: [Float]

    public init(size: Int, mean: [Float] = CLIPPreprocess.openAIMean, std: [Float] = CLIPPreprocess.openAIStd) {
        self.size = size
        self.mean = mean
        self.std = std
    }

    /// torchvision `resize(img, size)` with an int `size`: the short side becomes `size`, the long
    /// side `int(long * (size / short))` (divide first, then multiply, then truncate, in Double).
    /// A square image takes the `else` branch, so 299×299 gives 223 rows.
    public static func resizedSize(height h: Int, width w: Int, size: Int) -> (height: Int, width: Int) {
        if h < w {
            return (size, Int((Double(w) * (Double(size) / Double(h))).rounded(.towardZero)))
        }
        return (Int((Double(h) * (Double(size) / Double(w))).rounded(.towardZero)), size)
    }

    /// torchvision `center_crop` offsets: `int(round((side − size) / 2))` with round-half-even.
    static func cropOffset(_ side: Int, _ size: Int) -> Int {
        Int((Double(side - size) / 2).rounded(.toNearestOrEven))
    }

    /// [B, 3, H, W] in [0, 1] → normalised [B, 3, size, size].
    public func callAsFunction(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        guard image.rank == 4, image.shape[1] == mean.count else {
            throw ModelError("CLIP preprocessing expects [B, \(mean.count), H, W], got \(image.shape)")
        }
        let (h, w) = (image.shape[2], image.shape[3])
        guard h >= 1 && w >= 1 else { throw ModelError("CLIP preprocessing: the image is empty (\(w)x\(h))") }
        let target = Self.resizedSize(height: h, width: w, size: size)
        // A very elongated image would resize to a strip of billions of pixels before the crop.
        let (pixels, overflow) = target.height.multipliedReportingOverflow(by: target.width)
        guard target.height >= 1 && target.width >= 1, !overflow, pixels <= Self.maxResizedPixels else {
            throw ModelError("CLIP preprocessing: a \(w)x\(h) image would resize to \(target.width)x\(target.height); "
                             + "its aspect ratio is too extreme (at most \(Self.maxResizedPixels) pixels before the crop)")
        }
        var x = image
        if target != (h, w) {
            x = try ctx.interpolate(x, size: Size2(target.height, target.width), mode: .bicubic,
                                    alignCorners: false, antialias: true)
        }
        x = try centerCrop(ctx, x)
        return try normalize(ctx, x)
    }

    func centerCrop(_ ctx: ComputeContext, _ image: Tensor) throws -> Tensor {
        var x = image
        var (h, w) = (x.shape[2], x.shape[3])
        if size > h || size > w {
            let padW = max(size - w, 0), padH = max(size - h, 0)
            x = try ctx.pad(x, [padW / 2, (padW + 1) / 2, padH / 2, (padH + 1) / 2], mode: .zeros)
            (h, w) = (x.shape[2], x.shape[3])
        }
        if h == size && w == size { return x }
        return try ctx.crop(x, top: Self.cropOffset(h, size), left: Self.cropOffset(w, size), height: size, width: size)
    }

    /// (x − mean[c]) / std[c]: a subtraction, then a division, as torch computes it.
    func normalize(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        let out = try ctx.empty(x.shape)
        let (b, c) = (x.shape[0], x.shape[1])
        let plane = x.shape[2] * x.shape[3]
        let src = x.pointer, dst = out.mutablePointer
        for i in 0..<(b * c) {
            let m = mean[i % c], s = std[i % c]
            let sp = src + i * plane, dp = dst + i * plane
            for j in 0..<plane { dp[j] = (sp[j] - m) / s }
        }
        return out
    }
}
