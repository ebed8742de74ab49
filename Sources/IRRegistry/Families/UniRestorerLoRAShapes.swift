/// loralib `ConvLoRA` (loralib 0.1.2) as UniRestorer's LoRA experts store it: every conv
/// `name` becomes `name.lora_A` [r·k, in·k], `name.lora_B` [out/groups·k, r·k] and the wrapped
/// `name.conv.weight` (and `name.conv.bias` when the conv has one), in that order.
///
/// The weight shape [out, in/groups, k, k] does not record `groups`; a [out, 1, k, k] weight with
/// out > 1 is taken as depthwise (groups = in = out), which holds for every conv of the networks
/// UniRestorer wraps (Restormer's qkv_dwconv and GDFN dwconv).
public enum UniRestorerLoRAShapes {
    /// in_channels and groups of a conv weight shape, by the rule above.
    public static func channels(ofConvWeight s: [Int]) -> (inChannels: Int, groups: Int) {
        if s[1] == 1 && s[0] > 1 { return (s[0], s[0]) }
        return (s[1], 1)
    }

    /// A plain network's inventory as its LoRA-wrapped twin stores it: each conv (a square-kernel
    /// rank-4 `X.weight`) becomes `X.lora_A`, `X.lora_B`, `X.conv.weight`, and its `X.bias`, if any,
    /// `X.conv.bias`; everything else (norms, temperatures) is kept as it is.
    public static func inventory(_ plain: [ParameterSpec], rank r: Int) -> [ParameterSpec] {
        let sites = Set(plain.filter(isConvWeight).map { String($0.name.dropLast(".weight".count)) })
        return plain.flatMap { spec -> [ParameterSpec] in
            if isConvWeight(spec) {
                let s = spec.shape, k = s[2]
                let base = String(spec.name.dropLast(".weight".count))
                let (inChannels, groups) = channels(ofConvWeight: s)
                return [ParameterSpec(base + ".lora_A", [r * k, inChannels * k]),
                        ParameterSpec(base + ".lora_B", [s[0] / groups * k, r * k]),
                        ParameterSpec(base + ".conv.weight", s)]
            }
            if spec.name.hasSuffix(".bias"), sites.contains(String(spec.name.dropLast(".bias".count))) {
                return [ParameterSpec(String(spec.name.dropLast(".bias".count)) + ".conv.bias", spec.shape, kind: spec.kind)]
            }
            return [spec]
        }
    }

    /// A conv weight [out, in/g, k, k]; [1, C, 1, 1] affine parameters (DehazeFormer's RLN) are not.
    public static func isConvWeight(_ spec: ParameterSpec) -> Bool {
        spec.shape.count == 4 && spec.shape[0] > 1 && spec.shape[2] == spec.shape[3] && spec.name.hasSuffix(".weight")
    }

    /// Names of a LoRA network's table rewritten to the plain network's: `X.conv.weight` → `X.weight`
    /// (shape kept) for every `X` with `X.lora_A`; the factors dropped. The rank is rows(lora_A)/k.
    public static func plainShapes(_ shapes: [String: [Int]]) -> (shapes: [String: [Int]], rank: Int?) {
        var out = [String: [Int]]()
        var rank: Int?
        let sites = Set(shapes.keys.filter { $0.hasSuffix(".lora_A") }.map { String($0.dropLast(".lora_A".count)) })
        guard !sites.isEmpty else { return (shapes, nil) }
        for (name, shape) in shapes {
            if name.hasSuffix(".lora_A") || name.hasSuffix(".lora_B") {
                let site = String(name.dropLast(".lora_A".count))
                if sites.contains(site) { continue }
            }
            if name.hasSuffix(".conv.weight") || name.hasSuffix(".conv.bias") {
                let suffix = name.hasSuffix(".conv.weight") ? "weight" : "bias"
                let site = String(name.dropLast(".conv.\(suffix)".count))
                if sites.contains(site) {
                    out[site + "." + suffix] = shape
                    if suffix == "weight", rank == nil, let a = shapes[site + ".lora_A"], shape.count == 4, shape[2] > 0 {
                        rank = a[0] / shape[2]
                    }
                    continue
                }
            }
            out[name] = shape
        }
        return (out, rank)
    }
}
