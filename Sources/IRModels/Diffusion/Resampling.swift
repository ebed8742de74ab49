import IRRuntime

/// diffusers `Downsample2D` with a conv: the VAE's (padding 0) zero-pads right and bottom by one
/// pixel and runs a stride-2 3×3 conv (LDM's asymmetric pad); the UNet's pads 1 all round.
struct Downsample2D {
    let conv: Conv2dLayer
    /// True for the VAE encoder: pad (left 0, right 1, top 0, bottom 1), conv padding 0.
    let asymmetricPad: Bool

    init(_ w: Weights, _ name: String, channels: Int, asymmetricPad: Bool) throws {
        conv = try Conv2dLayer(w, name + ".conv", out: channels, in: channels, kernel: 3, stride: 2,
                               padding: asymmetricPad ? 0 : 1, bias: true)
        self.asymmetricPad = asymmetricPad
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try conv(ctx, asymmetricPad ? try ctx.pad(x, [0, 1, 0, 1]) : x)
    }
}

/// diffusers `Upsample2D` with a conv: nearest-neighbour ×2 (or to `size`, the skip's size, when
/// the UNet's input side is not a multiple of 2^levels), then a 3×3 conv (padding 1).
struct Upsample2D {
    let conv: Conv2dLayer

    init(_ w: Weights, _ name: String, channels: Int) throws {
        conv = try Conv2dLayer(w, name + ".conv", out: channels, in: channels, kernel: 3, padding: 1, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor, size: Size2? = nil) throws -> Tensor {
        let up = try size.map { try ctx.interpolate(x, size: $0, mode: .nearest) }
            ?? ctx.interpolate(x, scaleFactor: (2, 2), mode: .nearest)
        return try conv(ctx, up)
    }
}
