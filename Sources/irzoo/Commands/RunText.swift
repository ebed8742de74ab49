import ArgumentParser
import Foundation
import IRCheckpoint
import IRModels
import IRRuntime
import IRTensor

/// `irzoo run <text encoder> --prompt TEXT --vocab BPE --output hidden.npy [--pooled-output p.npy]`:
/// tokenises the prompt with CLIP's BPE (77 ids, padded as the model's config says) and writes
/// the penultimate hidden states [1, 77, D] that SDXL uses, and optionally the pooled embedding.
enum RunText {
    static func validate(_ c: Run) throws {
        guard c.prompt != nil else {
            if c.input.isEmpty { throw ValidationError("--input is required (or --prompt, for a text encoder)") }
            for (flag, given) in [("--vocab", c.vocab != nil), ("--pooled-output", c.pooledOutput != nil)] where given {
                throw ValidationError("\(flag) goes with --prompt")
            }
            return
        }
        // --input with --prompt: a text-guided restorer (unildiff), checked once the model is loaded.
        if !c.input.isEmpty {
            if c.pooledOutput != nil { throw ValidationError("--pooled-output is for a text encoder's --prompt, without --input") }
            return
        }
        for (flag, given) in [("--steps", c.steps != nil), ("--seed", c.seed != nil)] where given {
            throw ValidationError("\(flag) is for unildiff, with --input")
        }
        for (flag, given) in [("--tile", c.tile != nil), ("--aux", c.aux != nil), ("--reference", c.reference != nil),
                              ("--bit-depth", c.bitDepth != nil)] where given {
            throw ValidationError("\(flag) does not apply to --prompt")
        }
    }

    static func run(_ c: Run, prompt: String) throws {
        let started = Terminal.now()
        for path in [c.output] + (c.pooledOutput.map { [$0] } ?? []) where RunFile.kind(path) != .npy {
            throw CLIError(.usage, "\(path): a text encoder writes .npy files")
        }
        let store = try StoreAccess.open()
        let installed = try store.manifest(named: c.name)
        let loaded = try RunModelLoader.load(installed, store: store, threads: c.threads)
        guard let model = loaded.model as? CLIPTextModel else {
            throw CLIError(.usage, "\(c.name) is a \(loaded.model.family) model: --prompt is for text encoders (clip-text); use --input")
        }
        // --vocab wins over the vocabulary kept in the store (`import --vocab`).
        let tokenizer: CLIPTokenizer
        if let vocab = c.vocab {
            tokenizer = try TokenizerAsset.tokenizer(try TokenizerAsset.read(vocab), for: model, source: vocab)
        } else if let kept = loaded.vocabulary {
            tokenizer = try TokenizerAsset.tokenizer(kept, for: model, source: "\(c.name) (\(TokenizerAsset.tensorName))")
        } else {
            throw CLIError(.usage, "\(c.name) has no tokenizer vocabulary: pass --vocab FILE (open_clip_torch ships bpe_simple_vocab_16e6.txt.gz), or import the model with --vocab")
        }
        let ids = tokenizer.encodePadded(prompt)

        let progress = StepProgress(label: "run \(c.name)")
        var times = [Double]()
        var result: CLIPTextOutput?
        do {
            for _ in 0..<c.repeat {
                result = nil
                let start = Terminal.now()
                result = try model.encode(ids: [ids]) { progress.update($0, $1, unit: "layers") }
                times.append(Terminal.now() - start)
            }
        } catch let e as ModelError {
            progress.finish()
            throw CLIError(.unreadableInput, "--prompt: \(e.reason)")
        }
        progress.finish()
        let out = result!
        try RunOutput.writeNPY(out.penultimate, to: c.output)
        let pooled = out.projected ?? out.pooled
        if let p = c.pooledOutput { try RunOutput.writeNPY(pooled, to: p) }

        // Text ids between <|startoftext|> and the first <|endoftext|>.
        let textTokens = (ids.firstIndex(of: CLIPTokenizer.endOfText) ?? ids.count) - 1
        if c.printing.json {
            func shape(_ s: [Int]) -> JSON { .array(s.map { .int($0) }) }
            var fields: [(String, JSON)] = [
                ("model", .string(c.name)), ("architecture", .string(installed.architecture)), ("family", .string(model.family)),
                ("prompt", .string(prompt)), ("token_ids", .array(ids.map { .int(Int($0)) })),
                ("pooled_index", .int(out.poolIndices[0])),
                ("output", .object([("path", .string(c.output)), ("shape", shape(out.penultimate.shape)),
                                    ("what", .string("hidden_states[-2] (penultimate layer)"))])),
            ]
            if let p = c.pooledOutput {
                fields.append(("pooled_output", .object([("path", .string(p)), ("shape", shape(pooled.shape)),
                                                         ("what", .string(out.projected != nil ? "text_embeds (projected pooled)" : "pooler_output"))])))
            }
            fields += [("threads", .int(model.context.threads)), ("seconds", .double(times.min()!)), ("first_seconds", .double(times[0])),
                       ("repeat", .int(c.repeat)), ("total_seconds", .double(Terminal.now() - started))]
            if !loaded.notes.isEmpty { fields.append(("notes", .array(loaded.notes.map { .string($0) }))) }
            Terminal.printJSON(.object(fields))
            return
        }
        Terminal.say("\(c.name): prompt of \(textTokens) tokens (\(ids.count) with start, end and padding) -> \(c.output) \(Terminal.shape(out.penultimate.shape))"
              + (c.pooledOutput.map { ", \($0) \(Terminal.shape(pooled.shape))" } ?? "")
              + " in \(Terminal.format(times.min()!, 2)) s (\(model.context.threads) threads)")
        for n in loaded.notes { Terminal.say("note: \(n)") }
    }
}
