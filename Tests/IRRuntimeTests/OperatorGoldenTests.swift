import XCTest
import IRRuntime

/// Every operator against PyTorch (fixtures: Tools/gen_op_goldens.py), at every SIMD level and
/// with 1 and 2 threads; torch's refusals must be RuntimeErrors here. Each family also runs its
/// `degenerate_` cases: constant and zero-variance inputs, values near the float range, inf, NaN.
final class OperatorGoldenTests: XCTestCase {
    func testConv2d() throws {
        try checkGoldens("conv2d", "degenerate_conv2d") { g, c, ctx in
            let mode = PaddingMode(rawValue: g.string(c, "mode"))!
            return [try ctx.conv2d(g.tensor(c, "x"), weight: g.tensor(c, "w"), bias: g.optional(c, "b"),
                                   stride: g.size2(c, "stride"), padding: g.size2(c, "padding"),
                                   dilation: g.size2(c, "dilation"), groups: g.int(c, "groups"), paddingMode: mode)]
        }
    }

    func testConvTranspose2d() throws {
        try checkGoldens("conv_transpose2d", "degenerate_conv_transpose2d") { g, c, ctx in
            [try ctx.convTranspose2d(g.tensor(c, "x"), weight: g.tensor(c, "w"), bias: g.optional(c, "b"),
                                     stride: g.size2(c, "stride"), padding: g.size2(c, "padding"),
                                     outputPadding: g.size2(c, "output_padding"), groups: g.int(c, "groups"),
                                     dilation: g.size2(c, "dilation"))]
        }
    }

    func testLinearAndMatmul() throws {
        try checkGoldens("linear", "degenerate_linear") { g, c, ctx in
            if c.hasPrefix("linear") || c == "err_linear" {
                return [try ctx.linear(g.tensor(c, "x"), weight: g.tensor(c, "w"), bias: g.optional(c, "b"))]
            }
            return [try ctx.matmul(g.tensor(c, "a"), g.tensor(c, "b"), transposeA: g.bool(c, "transposeA"),
                                   transposeB: g.bool(c, "transposeB"))]
        }
    }

    func testAttention() throws {
        try checkGoldens("attention", "degenerate_attention") { g, c, ctx in
            if c.hasPrefix("sdpa") {
                let scale = g.isNull(c, "scale") ? nil : Float(g.double(c, "scale"))
                return [try ctx.scaledDotProductAttention(g.tensor(c, "q"), g.tensor(c, "k"), g.tensor(c, "v"),
                                                          mask: g.optional(c, "mask"), isCausal: g.bool(c, "causal"), scale: scale)]
            }
            if c.hasPrefix("mdta") {
                return [try ctx.channelAttention(q: g.tensor(c, "q"), k: g.tensor(c, "k"), v: g.tensor(c, "v"),
                                                 temperature: g.tensor(c, "temperature"), heads: g.int(c, "heads"))]
            }
            let window = g.int(c, "window")
            // The bias through our own gather of the Swin table, checked against torch's gather too.
            var bias: Tensor? = nil
            if let table = g.optional(c, "table") {
                bias = try ctx.relativePositionBias(table: table, window: window)
                XCTAssertEqual(bias!.scalars, g.tensor(c, "bias").scalars, "\(c): relative position bias")
            }
            return [try ctx.windowAttention(q: g.tensor(c, "q"), k: g.tensor(c, "k"), v: g.tensor(c, "v"),
                                            heads: g.int(c, "heads"), window: window, shift: g.int(c, "shift"),
                                            bias: bias, layout: g.string(c, "layout") == "nchw" ? .nchw : .nhwc)]
        }
    }

    func testNormalization() throws {
        try checkGoldens("norm", "degenerate_norm") { g, c, ctx in
            let x = g.tensor(c, "x")
            switch c {
            case _ where c.hasPrefix("ln") || c == "err_ln":
                return [try ctx.layerNorm(x, weight: g.optional(c, "w"), bias: g.optional(c, "b"), eps: Float(g.double(c, "eps")),
                                          normalizedShape: g.optional(c, "w") == nil ? [x.shape.last!] : nil)]
            case _ where c.hasPrefix("chln"):
                return [try ctx.channelLayerNorm(x, weight: g.tensor(c, "w"), bias: g.optional(c, "b"), eps: Float(g.double(c, "eps")),
                                                 variant: g.string(c, "variant") == "withBias" ? .withBias : .biasFree)]
            case _ where c.hasPrefix("gn") || c == "err_gn":
                return [try ctx.groupNorm(x, groups: g.int(c, "groups"), weight: g.optional(c, "w"), bias: g.optional(c, "b"),
                                          eps: Float(g.double(c, "eps")))]
            case _ where c.hasPrefix("bn"):
                return [try ctx.batchNorm(x, runningMean: g.tensor(c, "mean"), runningVar: g.tensor(c, "var"),
                                          weight: g.optional(c, "w"), bias: g.optional(c, "b"), eps: Float(g.double(c, "eps")))]
            case "rms":
                return [try ctx.rmsNorm(x, weight: g.tensor(c, "w"), eps: Float(g.double(c, "eps")))]
            case _ where c.hasPrefix("softmax"):
                return [try ctx.softmax(x, dim: g.int(c, "dim"))]
            default:
                return [try ctx.l2Normalize(x, dim: g.int(c, "dim"))]
            }
        }
    }

    func testActivations() throws {
        try checkGoldens("activations", "degenerate_activations") { g, c, ctx in
            let x = g.tensor(c, "x")
            switch c {
            case "relu": return [try ctx.relu(x)]
            case "gelu": return [try ctx.gelu(x)]
            case "gelu_tanh": return [try ctx.gelu(x, approximateTanh: true)]
            case "quick_gelu": return [try ctx.quickGELU(x)]
            case "silu": return [try ctx.silu(x)]
            case "sigmoid": return [try ctx.sigmoid(x)]
            case "tanh": return [try ctx.tanh(x)]
            case "leaky_relu": return [try ctx.leakyReLU(x, slope: Float(g.double(c, "slope")))]
            case _ where c.hasPrefix("softplus"):
                return [try ctx.softplus(x, beta: Float(g.double(c, "beta")), threshold: Float(g.double(c, "threshold")))]
            default:
                let act: Activation? = ["gelu": .gelu, "silu": .silu][g.string(c, "activation")]
                return [try ctx.gated(x, activation: act, dim: g.int(c, "dim"))]
            }
        }
    }

    func testShapeOps() throws {
        try checkGoldens("shape", "degenerate_shape") { g, c, ctx in
            switch c {
            case _ where c.hasPrefix("pixel_shuffle") || c == "err_pixel_shuffle":
                return [try ctx.pixelShuffle(g.tensor(c, "x"), g.int(c, "r"))]
            case _ where c.hasPrefix("pixel_unshuffle") || c == "err_pixel_unshuffle":
                return [try ctx.pixelUnshuffle(g.tensor(c, "x"), g.int(c, "r"))]
            case _ where c.hasPrefix("concat"):
                return [try ctx.concat([g.tensor(c, "a"), g.tensor(c, "b"), g.tensor(c, "c")], dim: g.int(c, "dim"))]
            case "split_dim1":
                return try ctx.split(g.tensor(c, "x"), sizes: g.ints(c, "sizes"), dim: g.int(c, "dim"))
            case _ where c.hasPrefix("permute"):
                return [try ctx.permute(g.tensor(c, "x"), g.ints(c, "dims"))]
            case "repeat_interleave":
                return [try ctx.repeatInterleave(g.tensor(c, "x"), g.int(c, "r"), dim: g.int(c, "dim"))]
            case "narrow":
                return [try ctx.narrow(g.tensor(c, "x"), dim: g.int(c, "dim"), start: g.int(c, "start"), length: g.int(c, "length"))]
            case _ where c.hasPrefix("pad") || c == "err_pad_reflect":
                let m = g.string(c, "mode")
                let mode: PaddingMode = m == "constant" ? .zeros : PaddingMode(rawValue: m)!
                return [try ctx.pad(g.tensor(c, "x"), g.ints(c, "pads"), mode: mode, value: Float(g.double(c, "value")))]
            default:
                let (a, b) = (g.tensor(c, "a"), g.tensor(c, "b"))
                if !g.isNull(c, "alpha") { return [try ctx.add(a, b, alpha: Float(g.double(c, "alpha")))] }
                switch g.string(c, "op") {
                case "add": return [try ctx.add(a, b)]
                case "sub": return [try ctx.sub(a, b)]
                case "mul": return [try ctx.mul(a, b)]
                default: return [try ctx.div(a, b)]
                }
            }
        }
    }

    func testPooling() throws {
        try checkGoldens("pooling", "degenerate_pooling") { g, c, ctx in
            let x = g.tensor(c, "x")
            if c.hasPrefix("adaptive") { return [try ctx.adaptiveAvgPool2d(x, outputSize: g.size2(c, "size"))] }
            if c.hasPrefix("tlsc") { return [try ctx.localAvgPool2d(x, kernel: g.size2(c, "kernel"))] }
            return [try ctx.avgPool2d(x, kernel: g.size2(c, "kernel"), stride: g.isNull(c, "stride") ? nil : g.size2(c, "stride"),
                                      padding: g.size2(c, "padding"), ceilMode: g.bool(c, "ceil"),
                                      countIncludePad: g.bool(c, "countIncludePad"),
                                      divisorOverride: g.isNull(c, "divisor") ? nil : g.int(c, "divisor"))]
        }
    }

    func testInterpolate() throws {
        try checkGoldens("interpolate", "degenerate_interpolate") { g, c, ctx in
            let mode = InterpolationMode(rawValue: g.string(c, "mode"))!
            let p = g.params(c)
            let size = (p["size"] as? [Int]).map { Size2($0[0], $0[1]) }
            let scale = (p["scale"] as? [Double]).map { (h: $0[0], w: $0[1]) }
            return [try ctx.interpolate(g.tensor(c, "x"), size: size, scaleFactor: scale, mode: mode,
                                        alignCorners: p["alignCorners"] as? Bool, antialias: g.bool(c, "antialias"))]
        }
    }

    func testFFT() throws {
        try checkGoldens("fft", "degenerate_fft") { g, c, ctx in
            if c == "anyir_fusion" {
                let (a, b) = (g.tensor(c, "a"), g.tensor(c, "b"))
                let sum = try ctx.add(ctx.rfft2(a), ctx.rfft2(b))
                return [try ctx.irfft2(sum, size: Size2(a.size(-2), a.size(-1)))]
            }
            let norm = FFTNorm(rawValue: g.string(c, "norm"))!
            if c.hasPrefix("rfft2") { return [try ctx.rfft2(g.tensor(c, "x"), norm: norm)] }
            return [try ctx.irfft2(g.tensor(c, "x"), size: g.size2(c, "size"), norm: norm)]
        }
    }

    func testTimestepEmbedding() throws {
        try checkGoldens("embedding") { g, c, ctx in
            [try ctx.timestepEmbedding(g.tensor(c, "t").scalars, dim: g.int(c, "dim"), downscaleFreqShift: Float(g.double(c, "shift")),
                                       scale: Float(g.double(c, "scale")), flipSinToCos: g.bool(c, "flip"),
                                       timeFactor: Float(g.double(c, "timeFactor")))]
        }
    }
}
