import IRRegistry

/// NAFNet (ECCV 2022) in its test-time `NAFNetLocal` form (TLSC local pooling in every SCA), as
/// UniRestorer builds its deblur experts (github.com/mrluin/UniRestorer `nafnet_arch.py`,
/// `nafnet_local_arch.py` @88b933c). `train_size` is not in the weights: it fixes the TLSC kernels.
public struct NAFNetConfig: ArchitectureConfig {
    public static let family = "nafnet"

    public var imageChannels: Int
    public var width: Int
    public var encoderBlocks: [Int]
    public var middleBlocks: Int
    public var decoderBlocks: [Int]
    /// Upstream's `train_size` (N, C, H, W): the kernels of the local pooling follow from H and W.
    public var trainSize: [Int]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case imageChannels = "img_channel"
        case width
        case encoderBlocks = "enc_blk_nums"
        case middleBlocks = "middle_blk_num"
        case decoderBlocks = "dec_blk_nums"
        case trainSize = "train_size"
    }

    public init(imageChannels: Int = 3, width: Int = 64, encoderBlocks: [Int] = [1, 1, 1, 28], middleBlocks: Int = 1,
                decoderBlocks: [Int] = [1, 1, 1, 1], trainSize: [Int] = [1, 3, 256, 256]) {
        self.imageChannels = imageChannels
        self.width = width
        self.encoderBlocks = encoderBlocks
        self.middleBlocks = middleBlocks
        self.decoderBlocks = decoderBlocks
        self.trainSize = trainSize
    }

    /// UniRestorer's deblur experts (l1_experts.6, l2_experts.21..22): NAFNet-width64 GoPro.
    public static let published = NAFNetConfig()

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self, in: "nafnet config")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imageChannels = try c.decodeIfPresent(Int.self, forKey: .imageChannels) ?? 3
        width = try c.decode(Int.self, forKey: .width)
        encoderBlocks = try c.decode([Int].self, forKey: .encoderBlocks)
        middleBlocks = try c.decode(Int.self, forKey: .middleBlocks)
        decoderBlocks = try c.decode([Int].self, forKey: .decoderBlocks)
        trainSize = try c.decodeIfPresent([Int].self, forKey: .trainSize) ?? [1, 3, 256, 256]
    }

    public var levels: Int { encoderBlocks.count }
    /// Sides are zero-padded to this multiple (upstream `padder_size = 2 ** len(encoders)`).
    public var padMultiple: Int { 1 << levels }
    public func channels(level i: Int) -> Int { width << i }

    /// The TLSC kernel (h, w) of the pooling at `level` (0 = full resolution, `levels` = middle), as
    /// upstream's construction pass fixes it: the feature side of a padded train-size image times
    /// base = int(1.5 · train side), floor-divided by the train side.
    public func poolKernel(level: Int) -> (h: Int, w: Int) {
        let th = trainSize[2], tw = trainSize[3], m = padMultiple
        let ph = (th + m - 1) / m * m, pw = (tw + m - 1) / m * m
        let baseH = Int(Double(th) * 1.5), baseW = Int(Double(tw) * 1.5)
        return ((ph >> level) * baseH / th, (pw >> level) * baseW / tw)
    }

    public func validate() throws {
        let f = Self.family
        try ConfigLimits.check(f, "img_channel", imageChannels, max: 64)
        try ConfigLimits.check(f, "width", width)
        try ConfigLimits.check(f, "enc_blk_nums", encoderBlocks, min: 0, max: ConfigLimits.maxBlocks)
        guard (1...ConfigLimits.maxLevels).contains(encoderBlocks.count) else {
            throw ConfigError(f, "enc_blk_nums", "needs 1...\(ConfigLimits.maxLevels) levels, found \(encoderBlocks.count)")
        }
        try ConfigLimits.check(f, "dec_blk_nums", decoderBlocks, count: encoderBlocks.count, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "middle_blk_num", middleBlocks, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "width << levels", width << levels)
        try ConfigLimits.check(f, "train_size", trainSize, count: 4, max: 1 << 16)
    }

    public var inventory: [ParameterSpec] {
        var b = InventoryBuilder()
        func blocks(_ scope: String, _ n: Int, _ c: Int) {
            for j in 0..<n { b.scope("\(scope).\(j)") { Self.addBlock(&$0, channels: c) } }
        }
        b.conv("intro", out: width, in: imageChannels, kernel: 3, bias: true)
        b.conv("ending", out: imageChannels, in: width, kernel: 3, bias: true)
        for (i, n) in encoderBlocks.enumerated() { blocks("encoders.\(i)", n, channels(level: i)) }
        for (i, n) in decoderBlocks.enumerated() { blocks("decoders.\(i)", n, channels(level: levels - 1 - i)) }
        blocks("middle_blks", middleBlocks, channels(level: levels))
        for i in 0..<levels {
            let c = channels(level: levels - i)
            b.add("ups.\(i).0.weight", [c * 2, c, 1, 1])
        }
        for i in 0..<levels { b.conv("downs.\(i)", out: channels(level: i + 1), in: channels(level: i), kernel: 2, bias: true) }
        return b.specs
    }

    /// NAFBlock: beta and gamma first (own parameters precede submodules in a state_dict).
    static func addBlock(_ b: inout InventoryBuilder, channels c: Int) {
        b.add("beta", [1, c, 1, 1])
        b.add("gamma", [1, c, 1, 1])
        b.conv("conv1", out: 2 * c, in: c, kernel: 1, bias: true)
        b.conv("conv2", out: 2 * c, in: 2 * c, kernel: 3, groups: 2 * c, bias: true)
        b.conv("conv3", out: c, in: c, kernel: 1, bias: true)
        b.conv("sca.1", out: c, in: c, kernel: 1, bias: true)
        b.conv("conv4", out: 2 * c, in: c, kernel: 1, bias: true)
        b.conv("conv5", out: c, in: c, kernel: 1, bias: true)
        b.layerNorm("norm1", c)
        b.layerNorm("norm2", c)
    }

    public var summary: String {
        "width \(width), blocks \(encoderBlocks.map(String.init).joined(separator: "/")) | \(middleBlocks) | "
            + "\(decoderBlocks.map(String.init).joined(separator: "/")), TLSC train size \(trainSize[2])x\(trainSize[3])"
    }

    public static func detect(_ t: ShapeTable) -> Detection<NAFNetConfig> {
        if let missing = SymUNetConfig.signature.mismatch(t) { return .absent(missing: missing) }
        let intro = t["intro.weight"]!
        let levels = t.count(indicesUnder: "downs.")
        let config = NAFNetConfig(imageChannels: intro[1], width: intro[0],
                                  encoderBlocks: (0..<levels).map { t.count(indicesUnder: "encoders.\($0).") },
                                  middleBlocks: t.count(indicesUnder: "middle_blks."),
                                  decoderBlocks: (0..<t.count(indicesUnder: "ups.")).map { t.count(indicesUnder: "decoders.\($0).") })
        return .found(config, notes: ["train_size is not in the weights: assumed [1, 3, 256, 256] (UniRestorer's; it sets the TLSC pooling kernels)"])
    }
}
