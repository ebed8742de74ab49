import IRRuntime
import IRRegistry

/// One of UniRestorer's estimator heads (`mu`, `sigma`): `headLayers` bias-free Linear layers
/// with LeakyReLU(0.1) between them, then BatchNorm1d in eval mode.
struct EstimatorHead {
    let linears: [Tensor]
    let bnWeight: Tensor, bnBias: Tensor, bnMean: Tensor, bnVar: Tensor

    init(_ w: Weights, layers: Int, dim d: Int) throws {
        linears = try (0..<layers).map { try w.tensor("\(2 * $0).weight", shape: [d, d]) }
        let bn = w.scoped("\(2 * layers - 1)")
        bnWeight = try bn.tensor("weight", shape: [d])
        bnBias = try bn.tensor("bias", shape: [d])
        bnMean = try bn.tensor("running_mean", shape: [d])
        bnVar = try bn.tensor("running_var", shape: [d])
    }

    func callAsFunction(_ ctx: ComputeContext, _ e: Tensor) throws -> Tensor {
        var x = e
        for (i, weight) in linears.enumerated() {
            x = try ctx.linear(x, weight: weight)
            if i < linears.count - 1 { x = try ctx.leakyReLU(x, slope: UniRestorerConfig.leakySlope) }
        }
        return try ctx.batchNorm(x, runningMean: bnMean, runningVar: bnVar, weight: bnWeight, bias: bnBias,
                                 eps: UniRestorerConfig.batchNormEps)
    }
}

/// What the router computed for one image, and the expert it chose.
public struct UniRestorerEstimate: Sendable {
    /// The controller's pooled embedding e [D] (not L2-normalised), the two estimates [D].
    public let embedding: [Float]
    public let mu: [Float]
    public let sigma: [Float]
    /// Clean gate logits: `lf_gate` rows 0..<leaves on mu, `layer_gate` rows 0..<levels on sigma.
    public let leafLogits: [Float]
    public let levelLogits: [Float]
    /// argmax of each (the first maximum on ties); softmax does not change the order.
    public var leaf: Int { argmax(leafLogits) }
    public var level: Int { argmax(levelLogits) }
}

/// argmax with the first index winning ties.
func argmax(_ v: [Float]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

/// UniRestorer's router at inference: DA-CLIP's `visual_control` (a CLIP ViT; its zero_modules
/// feed only the discarded image branch), the `mu`/`sigma` heads and the clean gate halves.
struct UniRestorerRouter {
    let config: UniRestorerConfig
    let tower: CLIPVisionTower
    let projection: Tensor
    let mu: EstimatorHead, sigma: EstimatorHead
    let leafGate: Tensor, levelGate: Tensor

    init(_ w: Weights, config c: UniRestorerConfig) throws {
        config = c
        let d = c.embedDim
        let control = w.scoped("daclip_model.visual_control")
        tower = try CLIPVisionTower(control.scoped("vision_model"), config: c.router)
        projection = try control.tensor("visual_projection.weight", shape: [d, c.router.hiddenSize])
        mu = try EstimatorHead(w.scoped("mu"), layers: c.headLayers, dim: d)
        sigma = try EstimatorHead(w.scoped("sigma"), layers: c.headLayers, dim: d)
        leafGate = try w.tensor("lf_gate.0.clean.weight", shape: [c.leaves, d])
        levelGate = try w.tensor("layer_gate.0.clean.weight", shape: [c.levels, d])
    }

    /// Preprocessed CLIP pixels [B, 3, S, S] → one estimate per batch item.
    func estimate(_ ctx: ComputeContext, pixels: Tensor) throws -> [UniRestorerEstimate] {
        let hidden = try tower.encode(ctx, pixels: pixels)
        let e = try tower.pooled(ctx, hidden: hidden, projection: projection)
        let m = try mu(ctx, e), s = try sigma(ctx, e)
        let lf = try ctx.linear(m, weight: leafGate), lv = try ctx.linear(s, weight: levelGate)
        let d = config.embedDim
        func row(_ t: Tensor, _ i: Int, _ n: Int) -> [Float] { Array(UnsafeBufferPointer(start: t.pointer + i * n, count: n)) }
        return (0..<pixels.shape[0]).map { i in
            UniRestorerEstimate(embedding: row(e, i, d), mu: row(m, i, d), sigma: row(s, i, d),
                                leafLogits: row(lf, i, config.leaves), levelLogits: row(lv, i, config.levels))
        }
    }
}
