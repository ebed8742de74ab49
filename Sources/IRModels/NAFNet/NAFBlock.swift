import IRRuntime

/// NAFNet's `NAFBlock` with TLSC pooling (NAFNetLocal at test time):
///
///     x = conv3(sg(dw(conv1(LN1(in)))) · sca(·)),   y = in + x·beta
///     out = y + conv5(sg(conv4(LN2(y))))·gamma
///
/// sg splits the channels in halves a | b and returns a·b; sca is a 1×1 conv of the local box
/// mean (`localAvgPool2d`, global when the map is no larger than the kernel); LN is LayerNorm2d
/// over channels with eps 1e-6.
final class NAFBlock {
    let norm1Weight: Tensor, norm1Bias: Tensor, norm2Weight: Tensor, norm2Bias: Tensor
    let conv1: Conv2dLayer, conv2: Conv2dLayer, conv3: Conv2dLayer, sca: Conv2dLayer, conv4: Conv2dLayer, conv5: Conv2dLayer
    let beta: Tensor, gamma: Tensor
    let poolKernel: Size2

    init(_ w: Weights, channels c: Int, poolKernel: Size2) throws {
        beta = try w.tensor("beta", shape: [1, c, 1, 1])
        gamma = try w.tensor("gamma", shape: [1, c, 1, 1])
        conv1 = try Conv2dLayer(w, "conv1", out: 2 * c, in: c, kernel: 1, bias: true)
        conv2 = try Conv2dLayer(w, "conv2", out: 2 * c, in: 2 * c, kernel: 3, padding: 1, groups: 2 * c, bias: true)
        conv3 = try Conv2dLayer(w, "conv3", out: c, in: c, kernel: 1, bias: true)
        sca = try Conv2dLayer(w, "sca.1", out: c, in: c, kernel: 1, bias: true)
        conv4 = try Conv2dLayer(w, "conv4", out: 2 * c, in: c, kernel: 1, bias: true)
        conv5 = try Conv2dLayer(w, "conv5", out: c, in: c, kernel: 1, bias: true)
        norm1Weight = try w.tensor("norm1.weight", shape: [c])
        norm1Bias = try w.tensor("norm1.bias", shape: [c])
        norm2Weight = try w.tensor("norm2.weight", shape: [c])
        norm2Bias = try w.tensor("norm2.bias", shape: [c])
        self.poolKernel = poolKernel
    }

    func callAsFunction(_ ctx: ComputeContext, _ input: Tensor) throws -> Tensor {
        var x = try ctx.channelLayerNorm(input, weight: norm1Weight, bias: norm1Bias, eps: 1e-6)
        x = try ctx.gated(try conv2(ctx, try conv1(ctx, x)), activation: nil, dim: 1)
        x = try ctx.mul(x, try sca(ctx, try ctx.localAvgPool2d(x, kernel: poolKernel)))
        let y = try ctx.add(input, try ctx.mul(try conv3(ctx, x), beta))
        x = try ctx.channelLayerNorm(y, weight: norm2Weight, bias: norm2Bias, eps: 1e-6)
        x = try conv5(ctx, try ctx.gated(try conv4(ctx, x), activation: nil, dim: 1))
        return try ctx.add(y, try ctx.mul(x, gamma))
    }
}
