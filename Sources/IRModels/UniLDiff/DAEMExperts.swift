import IRRuntime

// The expert side of UniLDiff's DAEM (upstream FaithDiff/models/moe.py, from MoCE-IR):
// NAFBlock bodies of width `rank`, the low-rank ModExpert around them, and the top-1 router.

/// The expert body (upstream class `FFTAttention` in moe.py, which is in fact a NAFBlock):
///
///     x = conv3(SG(dw_k(conv1(LN(inp)))) · SCA)        SG(a|b) = a·b, SCA = conv(GAP(·))
///     y = inp + β · x
///     return y + γ · conv5(SG(conv4(LN(y))))
///
/// LN is NAFNet's LayerNorm2d (eps 1e-6); the depthwise kernel k is 3 + 2i for expert i.
struct NAFExpertBody {
    let norm1Weight: Tensor, norm1Bias: Tensor, norm2Weight: Tensor, norm2Bias: Tensor
    let conv1: Conv2dLayer, conv2: Conv2dLayer, conv3: Conv2dLayer, sca: Conv2dLayer, conv4: Conv2dLayer, conv5: Conv2dLayer
    let beta: Tensor, gamma: Tensor

    init(_ w: Weights, channels c: Int, kernel: Int) throws {
        norm1Weight = try w.tensor("norm1.weight", shape: [c])
        norm1Bias = try w.tensor("norm1.bias", shape: [c])
        norm2Weight = try w.tensor("norm2.weight", shape: [c])
        norm2Bias = try w.tensor("norm2.bias", shape: [c])
        conv1 = try Conv2dLayer(w, "conv1", out: 2 * c, in: c, kernel: 1, bias: true)
        conv2 = try Conv2dLayer(w, "conv2", out: 2 * c, in: 2 * c, kernel: kernel, padding: (kernel - 1) / 2,
                                groups: 2 * c, bias: true)
        conv3 = try Conv2dLayer(w, "conv3", out: c, in: c, kernel: 1, bias: true)
        sca = try Conv2dLayer(w, "sca.1", out: c, in: c, kernel: 1, bias: true)
        conv4 = try Conv2dLayer(w, "conv4", out: 2 * c, in: c, kernel: 1, bias: true)
        conv5 = try Conv2dLayer(w, "conv5", out: c, in: c, kernel: 1, bias: true)
        beta = try w.tensor("beta", shape: [1, c, 1, 1])
        gamma = try w.tensor("gamma", shape: [1, c, 1, 1])
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor) throws -> Tensor {
        let n1 = try ctx.channelLayerNorm(input, weight: norm1Weight, bias: norm1Bias, eps: 1e-6)
        var x = try ctx.gated(try conv2(ctx, try conv1(ctx, n1)), activation: nil, dim: 1)
        x = try conv3(ctx, try ctx.mul(x, try sca(ctx, try ctx.adaptiveAvgPool2d(x, outputSize: 1))))
        let y = try ctx.add(input, try ctx.mul(x, beta))
        let n2 = try ctx.channelLayerNorm(y, weight: norm2Weight, bias: norm2Bias, eps: 1e-6)
        let f = try conv5(ctx, try ctx.gated(try conv4(ctx, n2), activation: nil, dim: 1))
        return try ctx.add(y, try ctx.mul(f, gamma))
    }
}

/// `ModExpert`: proj2(body(proj0(x)) · SiLU(proj1(shared))) + x, the 1×1 projections bias-free
/// (dim → rank → dim). Upstream repeats this `depth` times but each pass starts again from the
/// same input (a bug), so one pass is exactly what it computes.
struct ModExpert {
    let down: Conv2dLayer, sharedDown: Conv2dLayer, up: Conv2dLayer
    let body: NAFExpertBody

    init(_ w: Weights, dim: Int, rank: Int, kernel: Int) throws {
        down = try Conv2dLayer(w, "proj.0", out: rank, in: dim, kernel: 1, bias: false)
        sharedDown = try Conv2dLayer(w, "proj.1", out: rank, in: dim, kernel: 1, bias: false)
        up = try Conv2dLayer(w, "proj.2", out: dim, in: rank, kernel: 1, bias: false)
        body = try NAFExpertBody(w.scoped("body"), channels: rank, kernel: kernel)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, shared: Tensor) throws -> Tensor {
        let modulated = try ctx.mul(try body(ctx, try down(ctx, x)), try ctx.silu(try sharedDown(ctx, shared)))
        return try ctx.add(try up(ctx, modulated), x)
    }
}

/// `AdapterLayer`: the router picks one expert per sample, whose output (times its routing
/// probability) goes through proj_out.
///
/// Routing: p = softmax(gate(GAP(x)) + freq_gate(freq_emb)), expert = argmax p. Upstream adds
/// N(0, 1/num_experts) noise to the logits even at inference, which makes its choice random;
/// irzoo routes on the clean logits (noise off), deterministic. Upstream's inference branch only
/// handles batch 1; here each sample is routed on its own.
struct DAEMAdapter {
    let experts: [ModExpert]
    let gate: LinearLayer, frequencyGate: LinearLayer
    let projOut: Conv2dLayer

    init(_ w: Weights, dim: Int, rank: Int, experts count: Int, frequencyDim: Int) throws {
        experts = try (0..<count).map {
            try ModExpert(w.scoped("experts.\($0).0"), dim: dim, rank: rank, kernel: 3 + 2 * $0)
        }
        gate = try LinearLayer(w, "routing.gate.2", out: count, in: dim, bias: false)
        frequencyGate = try LinearLayer(w, "routing.freq_gate", out: count, in: frequencyDim, bias: false)
        projOut = try Conv2dLayer(w, "proj_out", out: dim, in: dim, kernel: 1, bias: false)
    }

    /// Routing probabilities [B, experts].
    func probabilities(_ ctx: ComputeContext, _ x: Tensor, frequencyEmbedding f: Tensor) throws -> Tensor {
        let pooled = try ctx.adaptiveAvgPool2d(x, outputSize: 1).reshaped([x.shape[0], x.shape[1]])
        return try ctx.softmax(try ctx.add(try gate(ctx, pooled), try frequencyGate(ctx, f)), dim: -1)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, frequencyEmbedding f: Tensor, shared: Tensor) throws -> (Tensor, [Int]) {
        let p = try probabilities(ctx, x, frequencyEmbedding: f)
        let n = experts.count
        var outputs: [Tensor] = []
        var choices: [Int] = []
        for i in 0..<x.shape[0] {
            let row = Array(UnsafeBufferPointer(start: p.pointer + i * n, count: n))
            // torch.topk(k=1): the first of equal maxima.
            var best = 0
            for e in 1..<n where row[e] > row[best] { best = e }
            choices.append(best)
            let y = try experts[best](ctx, try x.rows(i, 1), shared: try shared.rows(i, 1))
            outputs.append(try ctx.mul(y, row[best]))
        }
        let joined = outputs.count == 1 ? outputs[0] : try ctx.concat(outputs, dim: 0)
        return (try projOut(ctx, joined), choices)
    }
}
