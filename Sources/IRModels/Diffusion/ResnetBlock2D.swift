import IRRuntime

/// diffusers `ResnetBlock2D` (LDM `ResnetBlock`, SGM `ResBlock`) in its default form:
/// norm1 → SiLU → conv1 (→ + time_emb_proj(SiLU(temb)) per channel) → norm2 → SiLU → conv2,
/// plus the input, through a 1×1 `conv_shortcut` when the channel count changes.
/// output_scale_factor 1, time_embedding_norm "default", dropout is the identity at inference.
struct ResnetBlock2D {
    let norm1: GroupNormLayer
    let conv1: Conv2dLayer
    let timeEmbProj: LinearLayer?
    let norm2: GroupNormLayer
    let conv2: Conv2dLayer
    let shortcut: Conv2dLayer?

    /// `tembChannels` nil: no time embedding (the VAE's blocks).
    init(_ w: Weights, _ name: String, in inChannels: Int, out: Int, groups: Int, eps: Float, tembChannels: Int? = nil) throws {
        norm1 = try GroupNormLayer(w, name + ".norm1", channels: inChannels, groups: groups, eps: eps)
        conv1 = try Conv2dLayer(w, name + ".conv1", out: out, in: inChannels, kernel: 3, padding: 1, bias: true)
        timeEmbProj = try tembChannels.map { try LinearLayer(w, name + ".time_emb_proj", out: out, in: $0, bias: true) }
        norm2 = try GroupNormLayer(w, name + ".norm2", channels: out, groups: groups, eps: eps)
        conv2 = try Conv2dLayer(w, name + ".conv2", out: out, in: out, kernel: 3, padding: 1, bias: true)
        shortcut = inChannels == out ? nil : try Conv2dLayer(w, name + ".conv_shortcut", out: out, in: inChannels, kernel: 1, bias: true)
    }

    /// `temb`: [B, tembChannels], the UNet's time embedding (before SiLU); nil for the VAE.
    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, temb: Tensor? = nil) throws -> Tensor {
        var h = try conv1(ctx, try ctx.silu(try norm1(ctx, x)))
        if let proj = timeEmbProj {
            guard let temb else { throw ModelError("a time-conditioned ResNet block needs the time embedding") }
            let t = try proj(ctx, try ctx.silu(temb))
            h = try ctx.add(h, try t.reshaped([t.shape[0], t.shape[1], 1, 1]))
        }
        h = try conv2(ctx, try ctx.silu(try norm2(ctx, h)))
        return try ctx.add(try shortcut.map { try $0(ctx, x) } ?? x, h)
    }
}
