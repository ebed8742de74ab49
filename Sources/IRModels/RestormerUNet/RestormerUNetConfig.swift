import IRRegistry

/// The hyperparameters of Restormer's 4-level U-Net (`restormer_arch.py`), which the Restormer,
/// PromptIR and AnyIR configs share under the same upstream field names; IRModels builds the
/// shared `RestormerUNet` skeleton from them.
public protocol RestormerUNetConfig: ArchitectureConfig {
    var inputChannels: Int { get }
    var outputChannels: Int { get }
    var dim: Int { get }
    /// Blocks per level: encoder_level1...3 (mirrored by decoder_level3...1), then latent.
    var blocks: [Int] { get }
    var refinementBlocks: Int { get }
    var heads: [Int] { get }
    var ffnExpansionFactor: Double { get }
    var bias: Bool { get }
    var layerNorm: LayerNormKind { get }
}

extension RestormerUNetConfig {
    /// dim · 2^level.
    public func channels(level i: Int) -> Int { dim << i }

    /// The range checks of the U-Net's own fields, named as upstream names them.
    func validateUNetRanges() throws {
        let f = Self.family
        try ConfigLimits.check(f, "inp_channels", inputChannels, max: 64)
        try ConfigLimits.check(f, "out_channels", outputChannels, max: 64)
        try ConfigLimits.check(f, "dim", dim)
        try ConfigLimits.check(f, "num_blocks", blocks, count: 4, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "num_refinement_blocks", refinementBlocks, min: 0, max: ConfigLimits.maxBlocks)
        try ConfigLimits.check(f, "heads", heads, count: 4)
        try ConfigLimits.checkFactor(f, "ffn_expansion_factor", ffnExpansionFactor)
    }

    /// Downsampling halves the width before PixelUnshuffle, so dim must be even.
    func validateEvenDim() throws {
        guard dim % 2 == 0 else { throw ConfigError(Self.family, "dim", "\(dim) is odd: downsampling halves it before PixelUnshuffle") }
    }

    /// (channels, heads, field) of every block level; decoder level 1 and the refinement run at
    /// the level-2 width with heads[0].
    var blockSites: [(channels: Int, heads: Int, field: String)] {
        [(channels(level: 0), heads[0], "heads[0]"), (channels(level: 1), heads[1], "heads[1]"),
         (channels(level: 2), heads[2], "heads[2]"), (channels(level: 3), heads[3], "heads[3]"),
         (channels(level: 1), heads[0], "heads[0]")]
    }
}

/// What a Restormer U-Net's shapes say about its hyperparameters (after the family's signature
/// matched, so patch_embed.proj.weight and output.weight are present with rank 4).
struct RestormerUNetReading {
    static let stages = ["encoder_level1.", "encoder_level2.", "encoder_level3.", "latent."]

    let inputChannels: Int, outputChannels: Int, dim: Int
    let blocks: [Int], refinementBlocks: Int, heads: [Int]
    let layerNorm: LayerNormKind
    private let ffnPairs: [(channels: Int, hidden: Int)]

    init(_ t: ShapeTable) {
        let pe = t["patch_embed.proj.weight"]!, out = t["output.weight"]!
        (inputChannels, outputChannels, dim) = (pe[1], out[0], pe[0])
        blocks = Self.stages.map { t.count(indicesUnder: $0) }
        refinementBlocks = t.count(indicesUnder: "refinement.")
        heads = Self.stages.map { RestormerBlockInventory.heads(t, $0) ?? 1 }
        layerNorm = t.has("encoder_level1.0.norm1.body.bias") ? .withBias : .biasFree
        ffnPairs = Self.stages.compactMap { RestormerBlockInventory.ffnPair(t, $0) }
    }

    /// The expansion factor every stage's FFN agrees on, or the family's published one.
    func ffnExpansionFactor(default published: Double) -> Double {
        ffnPairs.isEmpty ? published : (detectExpansionFactor(ffnPairs) ?? published)
    }
}
