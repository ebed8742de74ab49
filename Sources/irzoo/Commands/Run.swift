#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import IRCheckpoint
import IRFormat
import IRImage
import IRModels
import IRRegistry
import IRRuntime
import IRStore
import IRTensor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an installed model on a PNG or a .npy array.",
        discussion: """
            PNG in and out (8 or 16 bit, gray, RGB or RGBA; alpha is kept, a gray image runs as RGB and \
            comes back gray), or float32 .npy arrays [1, C, H, W] with the values the network sees \
            (RGB in [0, 1]), unclamped, for exact work. Models that return tokens (the CLIP vision \
            tower) write .npy only. --tile runs big images in overlapping tiles with bounded memory; \
            tiled results approximate whole-image ones (see docs/CLI.md).
            """)

    @Argument(help: "The installed model's name (see `irzoo list`).")
    var name: String

    @Option(name: .long, help: "The input image: a .png, or a float32 .npy [1, C, H, W].")
    var input: String = ""

    @Option(name: .long, help: "Text for a text encoder (clip-text), instead of --input; for unildiff, the prompt that guides the restoration of --input (see docs/CLI.md).")
    var prompt: String?

    @Option(name: .long, help: "unildiff only: Euler sampling steps (default 20).")
    var steps: Int?

    @Option(name: .long, help: "unildiff only: seed of the start noise (default 0; irzoo's generator, not torch's).")
    var seed: UInt64?

    @Option(name: .long, help: "With --prompt: CLIP's BPE file (open_clip's bpe_simple_vocab_16e6.txt.gz, or its text); default: the one imported with the model.")
    var vocab: String?

    @Option(name: .long, help: "With --prompt: also write the pooled embedding (projected when the model has a projection) as .npy.")
    var pooledOutput: String?

    @Option(name: .long, help: "Where to write the result: .png or .npy (written atomically).")
    var output: String

    @Option(name: .long, help: "An .npz of named extra inputs, e.g. SE-SymUNet's '<module>.pos_embed' arrays.")
    var aux: String?

    @Option(name: .long, help: "Run in square tiles of this many pixels (bounded memory for big images).")
    var tile: Int?

    @Option(name: .long, help: "Pixels neighbouring tiles share and blend (default: a quarter of the tile, at most 32).")
    var overlap: Int?

    @Option(name: .long, help: "Bit depth of a PNG output: 8 or 16 (default: the input PNG's, 8 for .npy input).")
    var bitDepth: Int?

    @Option(name: .long, help: "sdxl-vae only: roundtrip (PNG to PNG, default), encode (image to the diffusion latent .npy, mean x scaling factor) or decode (latent .npy to image).")
    var vaeMode: String?

    @Option(name: .long, help: "Worker threads (default: every core).")
    var threads: Int?

    @Option(name: .long, help: "A clean reference PNG: prints the PSNR of the input and of the output against it.")
    var reference: String?

    @Option(name: .long, help: "Run the forward pass this many times and report the fastest (benchmarks; the first pass also maps the weights in).")
    var `repeat`: Int = 1

    @Option(name: .long, help: "Mixture-of-experts models (unirestorer): run this expert (pool index) instead of routing.")
    var expert: Int?

    @Flag(name: .long, help: "Print one JSON object on stdout.")
    var json = false

    func validate() throws {
        try RunText.validate(self)
        if let tile, tile < 1 { throw ValidationError("--tile must be a positive number of pixels") }
        if overlap != nil && tile == nil { throw ValidationError("--overlap needs --tile") }
        if let overlap, overlap < 0 { throw ValidationError("--overlap cannot be negative") }
        if let bitDepth, bitDepth != 8 && bitDepth != 16 { throw ValidationError("--bit-depth must be 8 or 16") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        if let steps, steps < 1 || steps > 1000 { throw ValidationError("--steps must be 1...1000") }
    }

    func run() throws {
        if let prompt, input.isEmpty { return try RunText.run(self, prompt: prompt) }
        let started = Terminal.now()
        for (flag, path) in [("--input", input), ("--output", output)] where RunFile.kind(path) == nil {
            throw CLIError(.usage, "\(flag) \(path): expected a .png or .npy file")
        }
        if let tile, let overlap, overlap >= tile {
            throw CLIError(.usage, "--overlap \(overlap) must be smaller than --tile \(tile)")
        }
        let store = try StoreAccess.open()
        let installed = try store.manifest(named: name)
        let loaded = try RunModelLoader.load(installed, store: store, threads: threads)
        let model = loaded.model
        if let vaeMode {
            guard let vae = model as? AutoencoderKLModel, let mode = AutoencoderKLModel.Mode(rawValue: vaeMode) else {
                throw CLIError(.usage, "--vae-mode \(vaeMode): needs an sdxl-vae model and one of roundtrip, encode, decode")
            }
            vae.mode = mode
        }
        try RunRouting.force(expert, on: model, name: name)
        let diffusion = try RunDiffusion.configure(model, run: self, storedVocabulary: loaded.vocabulary)

        // Every input, checked against the model before any work.
        let image = try RunInput.read(input, kind: RunFile.kind(input)!, channels: model.inputChannels)
        let outKind = RunFile.kind(output)!
        if model.outputKind == .tokens && outKind == .png {
            throw CLIError(.usage, "\(name) is a \(model.family) model: it returns tokens, not an image; write them to a .npy")
        }
        if outKind == .png && image.tensor.shape[0] != 1 {
            throw CLIError(.usage, "\(input): a batch of \(image.tensor.shape[0]) images cannot be written as one PNG; use a .npy output")
        }
        try RunInput.check(image.tensor, for: model, path: input)
        let auxTensors = try aux.map { try RunInput.readAux($0) } ?? [:]
        let referenceImage = try reference.map { try RunQuality.read($0, matching: image) }

        let pass = try forward(model, image.tensor, aux: auxTensors)

        let format: String
        switch outKind {
        case .npy:
            format = "npy-float32"
            try RunOutput.writeNPY(pass.result, to: output)
        case .png:
            let depth = bitDepth ?? image.png?.bitDepth ?? 8
            format = "png-\(depth)bit"
            try RunOutput.writePNG(pass.result, like: image, to: output, bitDepth: depth)
        }
        let quality = try referenceImage.map { try RunQuality.measure($0, input: image, output: output, outKind: outKind, result: pass.result) }
        report(installed, model: model, notes: loaded.notes + diffusion.notes, input: image.tensor, pass: pass, format: format,
               aux: auxTensors.keys.sorted(), quality: quality, totalSeconds: Terminal.now() - started)
    }

    struct Pass {
        var result: Tensor
        /// The fastest pass, and the first (which also faults the mapped weights in).
        var seconds: Double
        var firstSeconds: Double
        var tiles: Int
        var tiling: String
    }

    /// The forward pass (`--repeat` times), whole or in tiles, with progress on a terminal. Model
    /// errors are input errors (wrong aux shape, ...); they name the file at fault.
    func forward(_ model: Model, _ x: Tensor, aux auxTensors: [String: Tensor]) throws -> Pass {
        let progress = StepProgress(label: "run \(name)")
        defer { progress.finish() }
        var plan: TilePlan?
        var tiles = 1, tiling = "whole image"
        var times = [Double]()
        var result: Tensor?
        do {
            if let tile {
                let p = try TilePlan(tile: tile, overlap: overlap ?? min(32, tile / 4))
                tiles = p.starts(x.shape[2]).count * p.starts(x.shape[3]).count
                tiling = tiles == 1 ? "whole image (fits one \(tile)-pixel tile)" : "\(tiles) tiles of \(tile) px, overlap \(p.overlap) px"
                plan = p
            }
            for _ in 0..<`repeat` {
                result = nil  // the previous pass's buffers go back to the pool first
                let start = Terminal.now()
                if let plan {
                    result = try TiledInference.run(model, image: x, aux: auxTensors, plan: plan) { progress.update($0, $1, unit: "tiles") }
                } else {
                    result = try model.run(x, aux: auxTensors) { progress.update($0, $1, unit: "steps") }
                }
                times.append(Terminal.now() - start)
            }
        } catch let e as ModelError {
            let file = e.reason.hasPrefix("aux ") ? (aux ?? input) : input
            throw CLIError(.unreadableInput, "\(file): \(e.reason)")
        } catch let e as RuntimeError {
            throw CLIError(.failure, "\(name): \(e.description)")
        }
        return Pass(result: result!, seconds: times.min()!, firstSeconds: times[0], tiles: tiles, tiling: tiling)
    }

    func report(_ installed: StoreManifest, model: Model, notes: [String], input x: Tensor, pass: Pass, format: String,
                aux auxNames: [String], quality: RunQuality.Result?, totalSeconds: Double) {
        var tilingNote: String?
        if case .approximate(let why) = model.tiling, pass.tiles > 1 { tilingNote = why }
        if json {
            func shape(_ s: [Int]) -> JSON { .array(s.map { .int($0) }) }
            var fields: [(String, JSON)] = [
                ("model", .string(name)), ("architecture", .string(installed.architecture)), ("family", .string(model.family)),
                ("input", .object([("path", .string(input)), ("shape", shape(x.shape))])),
                ("output", .object([("path", .string(output)), ("shape", shape(pass.result.shape)), ("format", .string(format))])),
                ("tiling", .string(pass.tiling)), ("tiles", .int(pass.tiles)), ("threads", .int(model.context.threads)),
                ("seconds", .double(pass.seconds)), ("first_seconds", .double(pass.firstSeconds)), ("repeat", .int(`repeat`)),
                ("total_seconds", .double(totalSeconds)),
            ]
            if let tilingNote { fields.append(("tiling_note", .string(tilingNote))) }
            fields += RunDiffusion.jsonFields(model)
            if !auxNames.isEmpty { fields.append(("aux", .array(auxNames.map { .string($0) }))) }
            if !notes.isEmpty { fields.append(("notes", .array(notes.map { .string($0) }))) }
            if let routing = RunRouting.json(model) { fields.append(("routing", routing)) }
            if let q = quality {
                fields.append(("reference", .object([("path", .string(q.path)), ("psnr_input_db", .double(q.input)),
                                                     ("psnr_output_db", .double(q.output)), ("gain_db", .double(q.output - q.input)),
                                                     ("ssim_input", q.ssimInput.map { .double($0) } ?? .null),
                                                     ("ssim_output", q.ssimOutput.map { .double($0) } ?? .null)])))
            }
            Terminal.printJSON(.object(fields))
            return
        }
        Terminal.say("\(name): \(input) \(Terminal.shape(x.shape)) -> \(output) \(Terminal.shape(pass.result.shape)) "
              + "in \(Terminal.format(pass.seconds, 2)) s (\(pass.tiling), \(model.context.threads) threads)")
        for line in RunRouting.lines(model) { Terminal.say("route: \(line)") }
        for n in notes { Terminal.say("note: \(n)") }
        if let tilingNote { Terminal.say("note: the tiled result approximates the whole-image one: \(tilingNote)") }
        if let q = quality {
            Terminal.say("PSNR against \(q.path): input \(Terminal.format(q.input, 2)) dB, output \(Terminal.format(q.output, 2)) dB "
                  + "(\(q.output >= q.input ? "+" : "")\(Terminal.format(q.output - q.input, 2)) dB)")
            if let si = q.ssimInput, let so = q.ssimOutput {
                Terminal.say("SSIM against \(q.path): input \(Terminal.format(si, 4)), output \(Terminal.format(so, 4))")
            }
        }
    }
}

enum RunFile {
    enum Kind { case png, npy }

    static func kind(_ path: String) -> Kind? {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") { return .png }
        if lower.hasSuffix(".npy") { return .npy }
        return nil
    }
}

/// Builds the runnable model of an installed entry: family from the registry, config from the
/// store manifest, weights from the .irw blob (mapped, used in place).
enum RunModelLoader {
    struct Loaded {
        var model: Model
        var notes: [String]
        /// A text encoder's BPE file kept with the weights (`TokenizerAsset`).
        var vocabulary: [UInt8]? = nil
    }

    static func load(_ m: StoreManifest, store: ModelStore, threads: Int?) throws -> Loaded {
        if m.architecture == "raw" {
            throw CLIError(.usage, "\(m.name) was installed as raw tensors, with no architecture; re-import it with --arch ID to run it (`irzoo list --available`)")
        }
        // The store records a registry id (a manifest such as "symunet-demo") or a family id.
        let zoo = try Zoo.embedded()
        let family = zoo.manifest(m.architecture)?.family ?? m.architecture
        guard ModelFactory.canRun(family: family), let arch = ArchitectureFamily.named(family) else {
            throw CLIError(.usage, "\(m.name) is a '\(m.architecture)' model, which irzoo cannot run yet (runnable families: \(ModelFactory.runnableFamilies.joined(separator: ", ")))")
        }
        let config: ModelConfig
        let keptLoRAAlpha: Double?
        do {
            let stored = try KeptLoRA.split(try JSONDecoder().decode(AnyJSON.self, from: Data(m.config.serialized().utf8)))
            keptLoRAAlpha = stored.alpha
            config = try arch.decode(stored.config)
        } catch {
            throw CLIError(.failure, "\(m.name): the stored config does not describe a \(family) network: \(error)")
        }
        let blob = store.blobPath(m.blob.digest)
        let file = try IRWFile.open(path: blob)
        let context = ComputeContext(threads: threads)
        let (stored, vocabulary) = TokenizerAsset.split(try file.records())
        let model: Model
        do {
            // Imported with --keep-lora: merged here, into fresh f32 weights, before the inventory check.
            let records = try KeptLoRA.merged(stored, alpha: keptLoRAAlpha)
            model = try ModelFactory.make(config: config, records: records, source: "\(m.name) (\(blob))", context: context)
        } catch let e as InventoryMismatchError {
            throw CLIError(.inventoryMismatch, e.description)
        } catch let e as ModelError {
            throw CLIError(.failure, "\(m.name): \(e.reason)")
        } catch let e as KeyMappingError {
            throw CLIError(.failure, "\(m.name): kept LoRA factors: \(e)")
        }
        var notes = [String]()
        if let se = config.typed(SESymUNetConfig.self) {
            notes.append("pos_embed: --aux entries where given, else the '\(se.posEmbedDefault.rawValue)' default (seed \(se.posEmbedSeed)); upstream draws them at random")
        }
        return Loaded(model: model, notes: notes, vocabulary: vocabulary)
    }
}

/// What `--input` held: the tensor the network sees, and the PNG it came from (for alpha, gray
/// and bit depth on the way out).
struct RunInput {
    var tensor: Tensor
    var png: PNGImage?

    /// A PNG becomes what the network takes: RGB planes (a gray image repeated) for an RGB model,
    /// its one plane for a gray model.
    static func read(_ path: String, kind: RunFile.Kind, channels: Int) throws -> RunInput {
        switch kind {
        case .png:
            let image: PNGImage
            do { image = try PNGCodec.read(path: path) } catch let e as ImageIOError {
                throw CLIError(.unreadableInput, e.file == nil ? "\(path): \(e.reason)" : e.description)
            }
            let planes: [Float]
            switch (channels, image.colorChannels) {
            case (3, _): planes = image.rgbPlanes()
            case (1, 1): planes = image.color
            default:
                throw CLIError(.unreadableInput, "\(path): the model takes \(channels) channel\(channels == 1 ? " (gray)" : "s"), the PNG has \(image.colorChannels == 1 ? "gray" : "RGB") colour")
            }
            let t = try Tensor(shape: [1, planes.count / image.pixelCount, image.height, image.width], values: planes)
            return RunInput(tensor: t, png: image)
        case .npy:
            let record = try NumpyArray.read(path: path)
            guard record.dtype == .f32 else {
                throw CLIError(.unreadableInput, "\(path): expected float32 values, found \(record.dtype.rawValue) (save with .astype(np.float32))")
            }
            guard record.shape.count == 4 else {
                throw CLIError(.unreadableInput, "\(path): expected an array [1, C, H, W], found shape \(Terminal.shape(record.shape))")
            }
            return RunInput(tensor: try Tensor(record: record), png: nil)
        }
    }

    /// One line naming the input and what the model needs.
    static func check(_ x: Tensor, for model: Model, path: String) throws {
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        guard c == model.inputChannels else {
            throw CLIError(.unreadableInput, "\(path): \(model.family) needs \(model.inputChannels) channels, the input has \(c)")
        }
        guard h >= model.minimumSide && w >= model.minimumSide else {
            throw CLIError(.unreadableInput, "\(path): the image is \(w)x\(h) pixels; \(model.family) needs at least \(model.minimumSide)x\(model.minimumSide)")
        }
        guard x.shape[0] >= 1 else { throw CLIError(.unreadableInput, "\(path): the batch is empty") }
    }

    static func readAux(_ path: String) throws -> [String: Tensor] {
        var out = [String: Tensor]()
        for r in try NumpyArchive.read(path: path) {
            guard r.dtype.isFloatingPoint else {
                throw CLIError(.unreadableInput, "\(path): \(r.name): expected floating-point values, found \(r.dtype.rawValue)")
            }
            out[r.name] = try Tensor(record: r)
        }
        return out
    }
}

/// PSNR against a clean reference, on what was read and what was written (a PNG output is read
/// back, so the number is the file's, after clamping and rounding).
enum RunQuality {
    struct Result {
        var path: String
        var input: Double
        var output: Double
        /// SSIM (scikit-image's Gaussian form); nil when a side is under 11 pixels.
        var ssimInput: Double?
        var ssimOutput: Double?
    }

    /// Reads the reference and checks it against the input before any work is done.
    static func read(_ path: String, matching input: RunInput) throws -> (path: String, image: PNGImage) {
        let ref: PNGImage
        do { ref = try PNGCodec.read(path: path) } catch let e as ImageIOError {
            throw CLIError(.unreadableInput, e.file == nil ? "\(path): \(e.reason)" : e.description)
        }
        guard input.tensor.shape[2] == ref.height, input.tensor.shape[3] == ref.width, [1, 3].contains(input.tensor.shape[1]) else {
            throw CLIError(.usage, "\(path): the reference is \(ref.width)x\(ref.height), the input \(Terminal.shape(input.tensor.shape)); PSNR needs one size, gray or RGB")
        }
        return (path, ref)
    }

    static func measure(_ reference: (path: String, image: PNGImage), input: RunInput, output: String, outKind: RunFile.Kind,
                        result: Tensor) throws -> Result {
        // Everything compared as RGB planes (a gray plane counts three times), first image only.
        let refPlanes = reference.image.rgbPlanes()
        let plane = reference.image.pixelCount
        func rgb(_ t: Tensor) -> [Float] {
            let first = Array(t.scalars.prefix(t.shape[1] * plane))
            return t.shape[1] == 1 ? first + first + first : first
        }
        let inputPlanes = input.png?.rgbPlanes() ?? rgb(input.tensor)
        let outputPlanes = outKind == .png ? try PNGCodec.read(path: output).rgbPlanes() : rgb(result)
        let (h, w) = (reference.image.height, reference.image.width)
        let ssimMeasurable = min(h, w) >= 11
        do {
            return Result(path: reference.path, input: try ImageMetrics.psnr(inputPlanes, refPlanes),
                          output: try ImageMetrics.psnr(outputPlanes, refPlanes),
                          ssimInput: ssimMeasurable ? try ImageMetrics.ssim(inputPlanes, refPlanes, channels: 3, height: h, width: w) : nil,
                          ssimOutput: ssimMeasurable ? try ImageMetrics.ssim(outputPlanes, refPlanes, channels: 3, height: h, width: w) : nil)
        } catch let e as ImageIOError {
            throw CLIError(.usage, "\(reference.path): \(e.reason)")
        }
    }
}

enum RunOutput {
    static func writeNPY(_ t: Tensor, to path: String) throws {
        let bytes = t.withUnsafeBufferPointer { ByteBuffer.copying(UnsafeRawBufferPointer($0)) }
        let record = try TensorRecord(name: "output", dtype: .f32, shape: t.shape, data: bytes.whole)
        do { try NumpyArray.write(record, to: path) } catch let e as CheckpointError {
            throw CLIError(.writeFailed, e.description)
        }
    }

    /// The first image of the batch as a PNG: the input's layout (gray stays gray, alpha is
    /// re-attached) when the input was a PNG; RGB otherwise. Values are clamped to [0, 1] here,
    /// as BasicSR does when it saves images.
    static func writePNG(_ t: Tensor, like input: RunInput, to path: String, bitDepth: Int) throws {
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let values = Array(UnsafeBufferPointer(start: t.pointer, count: c * h * w))
        do {
            var image: PNGImage
            if let png = input.png, png.width == w, png.height == h, c == 3 {
                image = try png.withRestoredColor(rgb: values)
            } else if let png = input.png, png.width == w, png.height == h, c == png.colorChannels {
                image = try PNGImage(width: w, height: h, colorChannels: c, color: values, alpha: png.alpha)
            } else if c == 1 || c == 3 {
                image = try PNGImage(width: w, height: h, colorChannels: c, color: values)
            } else {
                throw CLIError(.usage, "the output has \(c) channels, which a PNG cannot hold; write a .npy")
            }
            image.bitDepth = bitDepth
            try PNGCodec.write(image, to: path)
        } catch let e as ImageIOError {
            throw CLIError(.writeFailed, e.file == nil ? "\(path): \(e.reason)" : e.description)
        }
    }
}

/// Progress of one forward pass: a redrawn line on a terminal, nothing otherwise (logs keep
/// just the result line).
final class StepProgress {
    private let label: String
    private let tty = Terminal.stderrIsTTY
    private let start = Terminal.now()
    private var lastDraw = 0.0
    private var drawn = false

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int, unit: String) {
        guard tty else { return }
        let now = Terminal.now()
        guard now - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(max(total, 1)))
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        fputs("\r\u{1B}[2K\(label) [\(bar)] \(done)/\(total) \(unit)  \(Terminal.format(now - start, 1)) s", stderr)
        drawn = true
    }

    func finish() {
        if drawn { fputs("\r\u{1B}[2K", stderr) }
        drawn = false
    }
}
