import IRRuntime
import IRRegistry

/// SE-SymUNet (arXiv 2512.10581): SymUNet guided by a frozen CLIP ViT vision tower.
///
/// Forward pass, as upstream's `SESymUNet.forward`:
/// 1. z = CLIP last_hidden_state of the **unpadded** input (SE-SymUNet's tensor preprocessing);
/// 2. pad, intro, encoders as in SymUNet;
/// 3. x = middle_guide(x, z); x = middle_blks(x); z = middle_refine(z, x);
/// 4. per decoder level d: x = ups[d](x) + skip; x = decoder_guide[d](x, z); x = decoders[d](x);
///    z = decoder_refine[d](z, x);
/// 5. ending + padded input, crop back; the final z is discarded.
public final class SESymUNet: Model {
    public let config: SESymUNetConfig
    public let context: ComputeContext
    let net: SymUNetBackbone
    let clip: CLIPVisionTower
    let clipPreprocess: CLIPPreprocess
    let middleGuide: ImageGuidance, middleRefine: TextRefinement
    let decoderGuides: [ImageGuidance], decoderRefines: [TextRefinement]

    /// `weights` holds upstream names: the backbone, the eight cross-attention modules and the CLIP
    /// tower under `clip_model.vision_model.*`.
    public init(config: SESymUNetConfig, weights w: Weights, context: ComputeContext = ComputeContext()) throws {
        try config.validate()
        self.config = config
        self.context = context
        net = try SymUNetBackbone(w, config: config.backbone)
        clip = try CLIPVisionTower(w.scoped("clip_model.vision_model"), config: config.clip)
        clipPreprocess = CLIPPreprocess(size: config.clip.imageSize)
        let z = config.clip.hiddenSize
        let sites = config.sites
        func guide(_ s: SESymUNetConfig.CrossAttentionSite) throws -> ImageGuidance {
            try ImageGuidance(w, path: s.guidePath, imageChannels: s.imageChannels, textDim: z, inner: s.innerDim,
                              heads: s.heads, patch: s.patchSize)
        }
        func refine(_ s: SESymUNetConfig.CrossAttentionSite) throws -> TextRefinement {
            try TextRefinement(w, path: s.refinePath, imageChannels: s.imageChannels, textDim: z, inner: s.innerDim,
                               heads: s.heads, patch: s.patchSize)
        }
        middleGuide = try guide(sites[0])
        middleRefine = try refine(sites[0])
        decoderGuides = try sites.dropFirst().map(guide)
        decoderRefines = try sites.dropFirst().map(refine)
    }

    public var family: String { SESymUNetConfig.family }
    public var inputChannels: Int { config.backbone.imageChannels }
    public var minimumSide: Int { SymUNetBackbone.minimumSide(padMultiple: config.backbone.padMultiple) }
    public var tiling: TilingSupport {
        .approximate("MDTA attends over the whole image and the cross-attention token grid follows the image size; "
                     + "tiled runs take the CLIP features from the whole image once")
    }

    /// `<module>.pos_embed` for the eight guidance and refinement modules, in upstream's draw order.
    public var auxInputNames: [String] {
        config.sites.flatMap { [PosEmbedSource.auxName($0.guidePath), PosEmbedSource.auxName($0.refinePath)] }
    }

    /// The CLIP context z = last_hidden_state [B, N, D] of the unpadded image.
    public func clipFeatures(_ image: Tensor, step: () -> Void = {}) throws -> Tensor {
        guard image.shape[1] == config.clip.channels else {
            throw ModelError("se-symunet: CLIP takes \(config.clip.channels) channels, the image has \(image.shape[1])")
        }
        return try clip.encode(context, pixels: try clipPreprocess(context, image), step: step)
    }

    public func run(_ input: Tensor, aux: [String: Tensor], progress: ProgressHandler?) throws -> Tensor {
        try checkImageInput(input)
        try checkAux(aux)
        let total = config.clip.layers + net.blockCount
        var done = 0
        let step = { done += 1; progress?(done, total) }
        let z = try clipFeatures(input, step: step)
        return try restore(input, context: z, aux: aux, step: step)
    }

    /// Tiles share the whole image's CLIP features (CLIP resizes to 224 px anyway, so this costs
    /// one tower pass and bounded memory); everything else runs per tile.
    public func tileRunner(whole: Tensor, aux: [String: Tensor]) throws -> (Tensor) throws -> Tensor {
        try checkImageInput(whole)
        try checkAux(aux)
        let z = try clipFeatures(whole)
        return { [self] tile in
            try checkImageInput(tile)
            return try restore(tile, context: z, aux: aux, step: {})
        }
    }

    func restore(_ input: Tensor, context zIn: Tensor, aux: [String: Tensor], step: () -> Void) throws -> Tensor {
        let ctx = context
        guard zIn.shape[0] == input.shape[0] else {
            throw ModelError("se-symunet: CLIP features for \(zIn.shape[0]) images, but the batch holds \(input.shape[0])")
        }
        let pos = PosEmbedSource(aux: aux, config: config)
        let padded = try net.padInput(ctx, input)
        var (x, skips) = try net.encode(ctx, padded, step: step)
        var z = zIn
        x = try middleGuide(ctx, x, context: z, posEmbeds: pos)
        x = try net.middle(ctx, x, step: step)
        z = try middleRefine(ctx, z, image: x, posEmbeds: pos)
        for d in 0..<config.levels {
            x = try net.upsample(ctx, x, level: d, skips: skips)
            x = try decoderGuides[d](ctx, x, context: z, posEmbeds: pos)
            x = try net.decoders[d](ctx, x, step: step)
            if d + 1 < config.levels {
                z = try decoderRefines[d](ctx, z, image: x, posEmbeds: pos)
            } else if aux[PosEmbedSource.auxName(decoderRefines[d].path)] != nil {
                // The last refinement's z is discarded upstream, so it is not computed; a given
                // pos_embed is still checked, as upstream's forward would.
                _ = try decoderRefines[d].posEmbed(x, posEmbeds: pos)
            }
        }
        return try net.finish(ctx, x, padded: padded, height: input.shape[2], width: input.shape[3])
    }
}
