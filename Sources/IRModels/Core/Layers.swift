import IRRuntime

/// nn.Conv2d with its weights (used in place, or widened per run: `WeightWidening`) and fixed hyperparameters.
struct Conv2dLayer {
    let weight: LayerWeight
    let bias: Tensor?
    let stride: Int
    let padding: Int
    let groups: Int

    /// Loads `name.weight` [out, in/groups, k, k] and `name.bias` [out] when `bias` says it exists.
    init(_ w: Weights, _ name: String, out: Int, in inChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
         groups: Int = 1, bias: Bool) throws {
        weight = try w.layerWeight(name + ".weight", shape: [out, inChannels / groups, kernel, kernel])
        self.bias = bias ? try w.tensor(name + ".bias", shape: [out]) : nil
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.conv2d(x, weight: try weight.tensor(ctx), bias: bias, stride: Size2(stride), padding: Size2(padding), groups: groups)
    }
}

/// nn.Linear: y = x·Wᵀ + b over the last dimension.
struct LinearLayer {
    let weight: LayerWeight
    let bias: Tensor?

    init(_ w: Weights, _ name: String, out: Int, in inFeatures: Int, bias: Bool) throws {
        weight = try w.layerWeight(name + ".weight", shape: [out, inFeatures])
        self.bias = bias ? try w.tensor(name + ".bias", shape: [out]) : nil
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.linear(x, weight: try weight.tensor(ctx), bias: bias)
    }
}

/// nn.LayerNorm over the last dimension (affine).
struct LayerNormLayer {
    let weight: Tensor
    let bias: Tensor
    let eps: Float

    init(_ w: Weights, _ name: String, _ dim: Int, eps: Float = 1e-5) throws {
        weight = try w.tensor(name + ".weight", shape: [dim])
        bias = try w.tensor(name + ".bias", shape: [dim])
        self.eps = eps
    }

    func callAsFunction(_ ctx: ComputeContext, _ x: Tensor) throws -> Tensor {
        try ctx.layerNorm(x, weight: weight, bias: bias, eps: eps)
    }
}

extension ComputeContext {
    /// Part `index` of `parts` equal slices along the channel axis of an NCHW tensor: a view when
    /// the batch is 1 (the usual case), a copy otherwise.
    func channelSlice(_ x: Tensor, index: Int, of parts: Int) throws -> Tensor {
        let c = x.shape[1] / parts
        if x.shape[0] == 1 {
            return try x.reshaped([parts, c, x.shape[2], x.shape[3]]).rows(index, 1)
        }
        return try narrow(x, dim: 1, start: index * c, length: c)
    }
}
