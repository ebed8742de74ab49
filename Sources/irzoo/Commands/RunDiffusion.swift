import Foundation
import IRModels
import IRRegistry
import IRTensor

/// The options of `irzoo run` that only the diffusion restorer (unildiff) takes: `--prompt` next
/// to `--input`, `--steps`, `--seed` (and `--vocab` for the prompt's tokenizer).
enum RunDiffusion {
    struct Settings {
        /// Lines for the report (what was sampled how).
        var notes: [String] = []
    }

    static func configure(_ model: Model, run c: Run, storedVocabulary: [UInt8]?) throws -> Settings {
        guard let m = model as? UniLDiffModel else {
            for (flag, given) in [("--prompt", c.prompt != nil), ("--steps", c.steps != nil), ("--seed", c.seed != nil)] where given {
                throw CLIError(.usage, "\(flag) with --input is for unildiff; \(c.name) is a \(model.family) model")
            }
            return Settings()
        }
        m.steps = c.steps ?? 20
        m.seed = c.seed ?? 0
        if let prompt = c.prompt {
            let (bytes, source): ([UInt8], String)
            if let vocab = c.vocab {
                (bytes, source) = (try TokenizerAsset.read(vocab), vocab)
            } else if let kept = storedVocabulary {
                (bytes, source) = (kept, "\(c.name) (\(TokenizerAsset.tensorName))")
            } else {
                throw CLIError(.usage, "\(c.name) has no tokenizer vocabulary for --prompt: pass --vocab FILE (open_clip_torch ships bpe_simple_vocab_16e6.txt.gz), or import the model with --vocab")
            }
            do {
                try m.setPrompt(prompt, mergesText: try TokenizerAsset.mergesText(bytes, source: source), source: source)
            } catch let e as ModelError {
                throw CLIError(.unreadableInput, e.reason)
            }
        } else if c.vocab != nil {
            throw CLIError(.usage, "--vocab goes with --prompt")
        }
        let noise = c.aux != nil ? "the aux noise" : "seed \(m.seed)"
        return Settings(notes: ["unildiff: \(m.steps) Euler steps, CFG \(m.denoiser.guidance), prompt \(c.prompt.map { "'\($0)'" } ?? "empty"), start noise from \(noise); DAEM not applied (its placement is unknown)"])
    }

    static func jsonFields(_ model: Model) -> [(String, JSON)] {
        guard let m = model as? UniLDiffModel else { return [] }
        return [("steps", .int(m.steps)), ("seed", .int(Int(truncatingIfNeeded: m.seed))), ("guidance", .double(Double(m.denoiser.guidance)))]
    }
}
