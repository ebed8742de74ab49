import IRRuntime
import IRRegistry

/// Where SE-SymUNet's per-module positional embeddings come from.
///
/// Upstream (`SymUNet_arch.py`) draws `pos_embed = torch.randn(1, N, C·p²)` inside `forward()`
/// whenever the module's token count N changes; it is never trained. irzoo takes it from the
/// `--aux` table under `<module path>.pos_embed` when given (to reproduce one PyTorch run
/// exactly), and otherwise follows the config's documented default
/// (`SESymUNetConfig.defaultPosEmbed`: a seeded normal draw per module path, or zeros).
struct PosEmbedSource {
    let aux: [String: Tensor]
    let config: SESymUNetConfig

    static func auxName(_ path: String) -> String { path + ".pos_embed" }

    /// The `[1, N, width]` embedding of module `path` for a feature map of `mapSize`.
    func embedding(for path: String, tokens n: Int, width: Int, mapSize: (Int, Int)) throws -> Tensor {
        let name = Self.auxName(path)
        if let t = aux[name] {
            guard t.shape == [1, n, width] else {
                throw ModelError("aux '\(name)' has shape \(t.shape), but this input needs [1, \(n), \(width)] "
                                 + "(\(n) tokens of the \(mapSize.0)x\(mapSize.1) feature map of the padded image)")
            }
            return t
        }
        return try Tensor(shape: [1, n, width], values: config.defaultPosEmbed(modulePath: path, tokens: n, patchDim: width))
    }
}
