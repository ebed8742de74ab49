import IRRuntime

/// nn.GroupNorm (affine) with its weights; diffusion blocks follow it with SiLU almost always.
struct GroupNormLayer {
    let weight: Tensor
    let bias: Tensor
    let groups: Int
    let eps: Float

    init(_ w: Weights, _ name: String, channels: Int, groups: Int, eps: Float) throws {
        weight = try w.tensor(name + ".weight", shape: [channels])
        bias = try w.tensor(name + ".bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
    }
}
