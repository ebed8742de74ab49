import IRRuntime
import IRRegistry

/// DehazeFormer's window attention branch (upstream `Attention` with `use_attn`): q, k = QK(x),
/// v = V(x), reflect-padded to whole windows (shifted blocks pad `shift` on the left/top instead
/// of rolling), window attention with the `meta` MLP's relative position bias, cropped back.
struct DehazeWindowAttention {
    let channels: Int, heads: Int, window: Int, shift: Int
    let v: Conv2dLayer, qk: Conv2dLayer, proj: Conv2dLayer
    /// meta(relative_positions) permuted to [heads, w², w²]: weights only, so computed once here.
    let bias: Tensor

    init(_ ctx: ComputeContext, _ w: Weights, channels c: Int, heads: Int, window: Int, shift: Int) throws {
        channels = c
        self.heads = heads
        self.window = window
        self.shift = shift
        v = try Conv2dLayer(w, "V", out: c, in: c, kernel: 1, bias: true)
        proj = try Conv2dLayer(w, "proj", out: c, in: c, kernel: 1, bias: true)
        qk = try Conv2dLayer(w, "QK", out: 2 * c, in: c, kernel: 1, bias: true)
        let n = window * window
        // The checkpoint's buffer is what upstream reads (a persistent buffer), so use it as stored.
        let positions = try w.tensor("attn.relative_positions", shape: [n, n, 2]).reshaped([n * n, 2])
        let hidden = try LinearLayer(w, "attn.meta.0", out: 256, in: 2, bias: true)
        let out = try LinearLayer(w, "attn.meta.2", out: heads, in: 256, bias: true)
        let table = try out(ctx, try ctx.relu(try hidden(ctx, positions)))  // [n², heads]
        bias = try ctx.permute(table, [1, 0]).reshaped([heads, n, n])
    }

    /// Right/bottom (and, when shifted, left/top) reflect padding that makes a side a window multiple.
    static func pads(side: Int, window: Int, shift: Int) -> (before: Int, after: Int) {
        let extra = (window - side % window) % window
        return shift > 0 ? (shift, (window - shift + extra) % window) : (0, extra)
    }

    /// Returns (V(x), attention output) so the block can add the conv branch of V.
    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> (Tensor, Tensor) {
        let (h, w) = (x.shape[2], x.shape[3])
        let values = try v(ctx, x)
        let qkMap = try qk(ctx, x)
        let ph = Self.pads(side: h, window: window, shift: shift), pw = Self.pads(side: w, window: window, shift: shift)
        func padded(_ t: Tensor) throws -> Tensor {
            if ph == (0, 0) && pw == (0, 0) { return t }
            return try ctx.pad(t, [pw.before, pw.after, ph.before, ph.after], mode: .reflect)
        }
        let q = try padded(try ctx.channelSlice(qkMap, index: 0, of: 2))
        let k = try padded(try ctx.channelSlice(qkMap, index: 1, of: 2))
        let attended = try ctx.windowAttention(q: q, k: k, v: try padded(values), heads: heads, window: window, shift: 0, bias: bias)
        let cropped = attended.shape[2] == h && attended.shape[3] == w
            ? attended : try ctx.crop(attended, top: ph.before, left: pw.before, height: h, width: w)
        return (values, cropped)
    }
}

/// One DehazeFormer block (upstream `TransformerBlock`, conv_type 'Conv', mlp_norm False):
///
///     attention block:  xn, rescale, rebias = RLN(x)
///                       x = x + proj(conv(V(xn)) + windowAttention(xn)) · rescale + rebias
///     other block:      x = x + conv(x)                    conv = 3x3 reflect → ReLU → 3x3 reflect
///     both:             x = x + mlp(x)                     1x1 → ReLU → 1x1
struct DehazeFormerBlock {
    let norm: RevisedLayerNorm?
    let attention: DehazeWindowAttention?
    let conv0: ReflectConv2d, conv2: ReflectConv2d
    let mlp0: Conv2dLayer, mlp2: Conv2dLayer

    init(_ ctx: ComputeContext, _ w: Weights, channels c: Int, hidden: Int, heads: Int, window: Int, shift: Int,
         attends: Bool) throws {
        norm = attends ? try RevisedLayerNorm(w.scoped("norm1"), channels: c) : nil
        attention = attends ? try DehazeWindowAttention(ctx, w.scoped("attn"), channels: c, heads: heads, window: window, shift: shift) : nil
        conv0 = try ReflectConv2d(w, "attn.conv.0", out: c, in: c, kernel: 3, padding: 1)
        conv2 = try ReflectConv2d(w, "attn.conv.2", out: c, in: c, kernel: 3, padding: 1)
        mlp0 = try Conv2dLayer(w, "mlp.mlp.0", out: hidden, in: c, kernel: 1, bias: true)
        mlp2 = try Conv2dLayer(w, "mlp.mlp.2", out: c, in: hidden, kernel: 1, bias: true)
    }

    func convBranch(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try conv2(ctx, try ctx.relu(try conv0(ctx, x)))
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor) throws -> Tensor {
        var x = input
        if let norm, let attention {
            let (normalised, rescale, rebias) = try norm(ctx, x)
            let (values, attended) = try attention(ctx, normalised)
            let mixed = try attention.proj(ctx, try ctx.add(try convBranch(ctx, values), attended))
            x = try ctx.add(x, try ctx.add(try ctx.mul(mixed, rescale), rebias))
        } else {
            x = try ctx.add(x, try convBranch(ctx, x))
        }
        return try ctx.add(x, try mlp2(ctx, try ctx.relu(try mlp0(ctx, x))))
    }
}

/// Upstream `SKFusion` of two branches plus the residual DehazeFormer adds after it:
/// a = softmax over the branches of mlp(mean_HW(x + skip)); out = a0·x + a1·skip + x.
struct SelectiveKernelFusion {
    let mlp0: Conv2dLayer, mlp2: Conv2dLayer
    let channels: Int

    init(_ w: Weights, channels c: Int) throws {
        channels = c
        let d = DehazeFormerConfig.fusionWidth(c)
        mlp0 = try Conv2dLayer(w, "mlp.0", out: d, in: c, kernel: 1, bias: false)
        mlp2 = try Conv2dLayer(w, "mlp.2", out: 2 * c, in: d, kernel: 1, bias: false)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, _ skip: Tensor) throws -> Tensor {
        let b = x.shape[0], c = channels
        let pooled = try ctx.adaptiveAvgPool2d(try ctx.add(x, skip), outputSize: 1)
        let logits = try mlp2(ctx, try ctx.relu(try mlp0(ctx, pooled)))  // [B, 2C, 1, 1]
        let weights = try ctx.softmax(try logits.reshaped([b, 2, c]), dim: 1)
        let a0 = try ctx.narrow(weights, dim: 1, start: 0, length: 1).reshaped([b, c, 1, 1])
        let a1 = try ctx.narrow(weights, dim: 1, start: 1, length: 1).reshaped([b, c, 1, 1])
        return try ctx.add(try ctx.add(try ctx.mul(x, a0), try ctx.mul(skip, a1)), x)
    }
}
