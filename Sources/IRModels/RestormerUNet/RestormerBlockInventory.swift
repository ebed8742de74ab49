import IRRegistry

/// The Restormer `TransformerBlock` (channel LayerNorm, MDTA, GDFN) that SymUNet, PromptIR and
/// UniRestorer's experts share, with its upstream key names and state_dict order.
enum RestormerBlockInventory {
    static func add(_ b: inout InventoryBuilder, dim: Int, heads: Int, ffnFactor: Double, bias: Bool, layerNorm: LayerNormKind) {
        let hidden = pythonIntProduct(dim, ffnFactor)
        b.layerNorm("norm1.body", dim, bias: layerNorm == .withBias)
        b.add("attn.temperature", [heads, 1, 1])
        b.conv("attn.qkv", out: dim * 3, in: dim, kernel: 1, bias: bias)
        b.conv("attn.qkv_dwconv", out: dim * 3, in: dim * 3, kernel: 3, groups: dim * 3, bias: bias)
        b.conv("attn.project_out", out: dim, in: dim, kernel: 1, bias: bias)
        b.layerNorm("norm2.body", dim, bias: layerNorm == .withBias)
        b.conv("ffn.project_in", out: hidden * 2, in: dim, kernel: 1, bias: bias)
        b.conv("ffn.dwconv", out: hidden * 2, in: hidden * 2, kernel: 3, groups: hidden * 2, bias: bias)
        b.conv("ffn.project_out", out: dim, in: hidden, kernel: 1, bias: bias)
    }

    /// `count` blocks named `<scope>.0`, `<scope>.1`, ...
    static func addStack(_ b: inout InventoryBuilder, _ scope: String, count: Int, dim: Int, heads: Int,
                         ffnFactor: Double, bias: Bool, layerNorm: LayerNormKind) {
        for j in 0..<count {
            b.scope("\(scope).\(j)") { add(&$0, dim: dim, heads: heads, ffnFactor: ffnFactor, bias: bias, layerNorm: layerNorm) }
        }
    }

    /// Heads of the first block under `prefix` (`<prefix>0.attn.temperature` is [heads, 1, 1]).
    static func heads(_ t: ShapeTable, _ prefix: String) -> Int? { t.dim(prefix + "0.attn.temperature", 0) }

    /// (dim, hidden) of the first block under `prefix`, for expansion-factor detection.
    static func ffnPair(_ t: ShapeTable, _ prefix: String) -> (channels: Int, hidden: Int)? {
        guard let s = t[prefix + "0.ffn.project_out.weight"], s.count == 4 else { return nil }
        return (s[0], s[1])
    }
}
