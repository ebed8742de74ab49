import IRRuntime
import IRRegistry

/// A loralib ConvLoRA network's weights as the plain network reads them, merged as
/// `ConvLoRA.train(False)` merges them at `model.eval()`:
/// `W = conv.weight + (B @ A).view(conv.weight.shape) · (alpha / r)`: a flat row-major
/// reinterpretation of the [out/g·k, in·k] product, not a structured (out, k) × (in, k) map.
enum UniRestorerLoRAWeights {
    /// `w` holds the LoRA names (`X.lora_A`, `X.lora_B`, `X.conv.weight`, `X.conv.bias`);
    /// `plain` is the wrapped family's inventory. Returns every plain name, convs merged (fresh
    /// tensors), everything else in place.
    static func merged(_ w: Weights, plain: [ParameterSpec], scale: Float, context ctx: ComputeContext) throws -> Weights {
        let sites = Set(plain.filter(UniRestorerLoRAShapes.isConvWeight).map { String($0.name.dropLast(".weight".count)) })
        var table = [String: Tensor]()
        for spec in plain {
            let site = spec.name.hasSuffix(".weight") ? String(spec.name.dropLast(".weight".count))
                                                      : String(spec.name.dropLast(".bias".count))
            if sites.contains(site) && spec.name.hasSuffix(".weight") {
                let base = try w.tensor(site + ".conv.weight", shape: spec.shape)
                let a = try w.tensor(site + ".lora_A"), b = try w.tensor(site + ".lora_B")
                let delta = try ctx.matmul(b, a).reshaped(spec.shape)
                table[spec.name] = try ctx.add(base, delta, alpha: scale)
            } else if sites.contains(site) && spec.name.hasSuffix(".bias") {
                table[spec.name] = try w.tensor(site + ".conv.bias", shape: spec.shape)
            } else {
                table[spec.name] = try w.tensor(spec.name, shape: spec.shape)
            }
        }
        return Weights(tensors: table)
    }
}
