import IRRuntime

/// nn.Conv2d with `padding_mode='reflect'` (every padded conv of DehazeFormer).
struct ReflectConv2d {
    let conv: Conv2dLayer

    init(_ w: Weights, _ name: String, out: Int, in inChannels: Int, kernel: Int, stride: Int = 1, padding: Int) throws {
        conv = try Conv2dLayer(w, name, out: out, in: inChannels, kernel: kernel, stride: stride, padding: padding, bias: true)
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.conv2d(x, weight: try conv.weight.tensor(ctx), bias: conv.bias, stride: Size2(conv.stride), padding: Size2(conv.padding),
                       paddingMode: .reflect)
    }
}
