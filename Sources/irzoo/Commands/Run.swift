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
import IRJobs
import IRModels
import IRRegistry
import IRRuntime
import IRStore
import IRTensor

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an installed model on an image, a folder of images, or a .npy array.",
        discussion: """
            Images in and out: JPEG, PNG, TIFF (8 or 16 bit) and WebP, the output format following its \
            extension (--format overrides); the EXIF orientation is applied and the ICC profile carried. \
            Alpha is kept, a gray image runs as RGB and comes back gray. Float32 .npy arrays [1, C, H, W] \
            hold the values the network sees (RGB in [0, 1]), unclamped, for exact work. A folder or \
            several inputs with an --output folder restore every image with the model loaded once. Big \
            images run in tiles chosen to fit --max-memory (--tile sets them); tiled results approximate \
            whole-image ones (see docs/CLI.md). Models that return tokens (the CLIP vision tower) write \
            .npy only.
            """)

    @Argument(help: "The installed model's name (see `irzoo list`).")
    var name: String

    @Option(name: .customLong("input"), parsing: .upToNextOption,
            help: "The input: an image (.png .jpg .tif .webp), a float32 .npy [1, C, H, W], or several images or folders (with an --output folder).")
    var inputs: [String] = []

    /// The one input of the single-file forms.
    var input: String { inputs.first ?? "" }

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

    @Option(name: .long, help: "With --prompt, for a pipeline: the text encoder to run, text_encoder (default) or text_encoder_2; its stored tokenizer is used.")
    var component: String?

    @Option(name: .long, help: "Where to write the result: an image (.png .jpg .tif .webp; the format follows the extension), a .npy, or a folder for a batch (written atomically).")
    var output: String

    @OptionGroup(title: "Images and batches")
    var images: ImageJobOptions

    @Option(name: .long, help: "An .npz of named extra inputs, e.g. SE-SymUNet's '<module>.pos_embed' arrays.")
    var aux: String?

    @Option(name: .long, help: "Run in square tiles of this many pixels instead of the automatic choice (see --max-memory).")
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

    @OptionGroup var printing: JSONOutput

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
        if RunBatch.isBatch(self) { return try RunBatch.run(self) }
        let started = Terminal.now()
        for (flag, path) in [("--input", input), ("--output", output)] where RunFile.kind(path, format: flag == "--output" ? images.format : nil) == nil {
            throw CLIError(.usage, "\(flag) \(path): expected an image (.png .jpg .jpeg .tif .tiff .webp) or a .npy file")
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
        let image = try RunInput.read(input, kind: RunFile.kind(input)!, channels: model.inputChannels, maxPixels: images.maxPixels)
        let outKind = RunFile.kind(output, format: images.format)!
        if model.outputKind == .tokens && outKind == .image {
            throw CLIError(.usage, "\(name) is a \(model.family) model: it returns tokens, not an image; write them to a .npy")
        }
        if outKind == .image && image.tensor.shape[0] != 1 {
            throw CLIError(.usage, "\(input): a batch of \(image.tensor.shape[0]) images cannot be written as one image file; use a .npy output")
        }
        try RunInput.check(image.tensor, for: model, path: input)
        let auxTensors = try aux.map { try RunInput.readAux($0) } ?? [:]
        let referenceImage = try reference.map { try RunQuality.read($0, matching: image, scale: model.scale) }

        let pass = try forward(model, image.tensor, aux: auxTensors)

        let format: String
        switch outKind {
        case .npy:
            format = "npy-float32"
            try RunOutput.writeNPY(pass.result, to: output)
        case .image:
            format = try RunOutput.writeImage(pass.result, like: image, to: output, bitDepth: bitDepth, options: images)
        }
        let quality = try referenceImage.map { try RunQuality.measure($0, input: image, output: output, outKind: outKind, result: pass.result) }
        report(installed, model: model, notes: loaded.notes + diffusion.notes, input: image.tensor, pass: pass, format: format,
               aux: auxTensors.keys.sorted(), quality: quality, totalSeconds: Terminal.now() - started, image: image)
    }

    struct Pass {
        var result: Tensor
        /// The fastest pass, and the first (which also faults the mapped weights in).
        var seconds: Double
        var firstSeconds: Double
        var tiles: Int
        var tiling: String
        /// The memory planner's numbers, when it chose the tiling.
        var memory: JSON? = nil
    }

    /// The forward pass (`--repeat` times), whole or in tiles, with progress on a terminal. Model
    /// errors are input errors (wrong aux shape, ...); they name the file at fault.
    func forward(_ model: Model, _ x: Tensor, aux auxTensors: [String: Tensor]) throws -> Pass {
        let progress = StepProgress(label: "run \(name)")
        defer { progress.finish() }
        if let tile, let overlap, overlap >= tile { throw CLIError(.usage, "--overlap \(overlap) must be smaller than --tile \(tile)") }
        var settings = images.settings(tile: tile, overlap: overlap, aux: auxTensors)
        settings.automaticTiling = RunFile.kind(input) == .image  // .npy is the exact path: whole unless --tile
        let engine = RestorationEngine(model: model, settings: settings)
        var times = [Double]()
        var pass: RestorationEngine.Forward?
        do {
            for _ in 0..<`repeat` {
                pass = nil  // the previous pass's buffers go back to the pool first
                let p = try engine.forward(x) { progress.update($0, $1, unit: $2.rawValue) }
                times.append(p.seconds)
                pass = p
            }
        } catch let e as ModelError {
            let file = e.reason.hasPrefix("aux ") ? (aux ?? input) : input
            throw CLIError(.unreadableInput, "\(file): \(e.reason)")
        } catch let e as MemoryBudgetError {
            throw CLIError(.usage, "\(input): \(e.reason)")
        } catch let e as RuntimeError {
            throw CLIError(.failure, "\(name): \(e.description)")
        }
        var memory: JSON?
        if let estimated = pass!.estimatedBytes {
            memory = .object([("budget", .int(engine.planner.budget)), ("estimated_peak_bytes", .int(estimated)),
                              ("baseline_bytes", .int(engine.planner.baseline))])
        }
        return Pass(result: pass!.result, seconds: times.min()!, firstSeconds: times[0], tiles: pass!.tiles, tiling: pass!.tiling, memory: memory)
    }

    func report(_ installed: StoreManifest, model: Model, notes: [String], input x: Tensor, pass: Pass, format: String,
                aux auxNames: [String], quality: RunQuality.Result?, totalSeconds: Double, image: RunInput? = nil) {
        let outputIsImage = RunFile.kind(output, format: images.format) == .image
        var tilingNote: String?
        if case .approximate(let why) = model.tiling, pass.tiles > 1 { tilingNote = why }
        if printing.json {
            func shape(_ s: [Int]) -> JSON { .array(s.map { .int($0) }) }
            var fields: [(String, JSON)] = [
                ("model", .string(name)), ("architecture", .string(installed.architecture)), ("family", .string(model.family)),
                ("input", .object([("path", .string(input)), ("shape", shape(x.shape))])),
                ("output", .object([("path", .string(output)), ("shape", shape(pass.result.shape)), ("format", .string(format))])),
                ("scale", .int(model.scale)),
                ("tiling", .string(pass.tiling)), ("tiles", .int(pass.tiles)), ("threads", .int(model.context.threads)),
                ("seconds", .double(pass.seconds)), ("first_seconds", .double(pass.firstSeconds)), ("repeat", .int(`repeat`)),
                ("total_seconds", .double(totalSeconds)),
            ]
            if let tilingNote { fields.append(("tiling_note", .string(tilingNote))) }
            if let memory = pass.memory { fields.append(("memory", memory)) }
            if let decoded = image?.decoded {
                fields.append(("input_format", .string(decoded.format.rawValue)))
                fields.append(("orientation", .int(decoded.orientation)))
                fields.append(("icc_profile", decoded.iccProfile.map { .object([("carried", .bool(outputIsImage)), ("bytes", .int($0.count))]) }
                               ?? .object([("carried", .bool(false))])))
            }
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
        Terminal.say("\(name): \(input) \(Terminal.shape(x.shape)) -> \(output) \(Terminal.shape(pass.result.shape))"
              + (model.scale > 1 ? " (\(model.scale)x)" : "") + " "
              + "in \(Terminal.format(pass.seconds, 2)) s (\(pass.tiling), \(model.context.threads) threads)")
        for line in RunRouting.lines(model) { Terminal.say("route: \(line)") }
        for n in notes { Terminal.say("note: \(n)") }
        if let d = image?.decoded, d.orientation != 1 { Terminal.say("note: EXIF orientation \(d.orientation) applied on reading (the output is upright)") }
        if let icc = image?.decoded?.iccProfile, outputIsImage { Terminal.say("note: the input's ICC profile (\(icc.count) bytes) is carried into the output unchanged") }
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
    enum Kind { case image, npy }

    /// `.npy`, an image extension, or anything when `format` (`--format`) names the image format.
    static func kind(_ path: String, format: ImageFormat? = nil) -> Kind? {
        if path.lowercased().hasSuffix(".npy") { return .npy }
        return ImageFormat(extensionOf: path) != nil || format != nil ? .image : nil
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
        if m.isPipeline { throw PipelineParts.notRunnable(m, store: store) }
        if m.architecture == "raw" {
            throw CLIError(.usage, "\(m.name) was installed as raw tensors, with no architecture; re-import it with --arch ID to run it (`irzoo list --available`)")
        }
        // The store records a registry id (a manifest such as "symunet-demo") or a family id.
        let zoo = try Zoo.embedded()
        let family = zoo.manifest(m.architecture)?.family ?? m.architecture
        guard ModelFactory.canRun(family: family), let arch = Families.catalog.named(family) else {
            throw CLIError(.usage, "\(m.name) is a '\(m.architecture)' model, which irzoo cannot run yet (runnable families: \(ModelFactory.runnableFamilies.joined(separator: ", ")))")
        }
        let config: ModelConfig
        let keptLoRAAlpha: Double?
        do {
            let stored = try KeptLoRA.split(m.config)
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

/// What `--input` held: the tensor the network sees, and the image it came from (for alpha, gray,
/// bit depth and the ICC profile on the way out).
struct RunInput {
    var tensor: Tensor
    var decoded: DecodedImage?
    var png: RasterImage? { decoded?.image }

    static func read(_ path: String, kind: RunFile.Kind, channels: Int, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> RunInput {
        switch kind {
        case .image:
            let decoded: DecodedImage
            do {
                let probe = try ImageCodecs.probe(path: path)
                guard probe.pixelCount <= maxPixels else {
                    throw ImageIOError(file: path, reason: "the header says \(probe.width)x\(probe.height) pixels, more than --max-pixels \(maxPixels) (refused before decoding)")
                }
                decoded = try ImageCodecs.read(path: path, maxPixels: maxPixels)
            } catch let e as ImageIOError {
                throw CLIError(.unreadableInput, e.file == nil ? "\(path): \(e.reason)" : e.description)
            }
            do { return RunInput(tensor: try ImageTensors.input(decoded.image, channels: channels), decoded: decoded) } catch let e as ModelError {
                throw CLIError(.unreadableInput, "\(path): \(e.reason)")
            }
        case .npy:
            let record = try NumpyArray.read(path: path)
            guard record.dtype == .f32 else {
                throw CLIError(.unreadableInput, "\(path): expected float32 values, found \(record.dtype.rawValue) (save with .astype(np.float32))")
            }
            guard record.shape.count == 4 else {
                throw CLIError(.unreadableInput, "\(path): expected an array [1, C, H, W], found shape \(Terminal.shape(record.shape))")
            }
            return RunInput(tensor: try Tensor(record: record), decoded: nil)
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
    static func read(_ path: String, matching input: RunInput, scale: Int = 1) throws -> (path: String, image: RasterImage) {
        guard scale == 1 else {
            throw CLIError(.usage, "\(path): the model upscales \(scale)x and PSNR/SSIM against a reference are measured at the input's size only; run without a reference")
        }
        let ref: RasterImage
        do { ref = try ImageCodecs.read(path: path).image } catch let e as ImageIOError {
            throw CLIError(.unreadableInput, e.file == nil ? "\(path): \(e.reason)" : e.description)
        }
        guard input.tensor.shape[2] == ref.height, input.tensor.shape[3] == ref.width, [1, 3].contains(input.tensor.shape[1]) else {
            throw CLIError(.usage, "\(path): the reference is \(ref.width)x\(ref.height), the input \(Terminal.shape(input.tensor.shape)); PSNR needs one size, gray or RGB")
        }
        return (path, ref)
    }

    /// `result` is read only for a .npy output (an image output is read back from `output`).
    static func measure(_ reference: (path: String, image: RasterImage), input: RunInput, output: String, outKind: RunFile.Kind,
                        result: Tensor?) throws -> Result {
        // Everything compared as RGB planes (a gray plane counts three times), first image only.
        let refPlanes = reference.image.rgbPlanes()
        let plane = reference.image.pixelCount
        func rgb(_ t: Tensor) -> [Float] {
            let first = Array(t.scalars.prefix(t.shape[1] * plane))
            return t.shape[1] == 1 ? first + first + first : first
        }
        let inputPlanes = input.png?.rgbPlanes() ?? rgb(input.tensor)
        let outputPlanes = outKind == .image ? try ImageCodecs.read(path: output).image.rgbPlanes() : rgb(result!)
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

    /// The first image of the batch as an image file in the format `--format` or the extension
    /// names: the input's layout (gray stays gray, alpha is re-attached) and ICC profile when the
    /// input was an image. Values are clamped to [0, 1] here, as BasicSR does when it saves images.
    /// Returns the format written, e.g. "jpeg-8bit".
    static func writeImage(_ t: Tensor, like input: RunInput, to path: String, bitDepth: Int?, options: ImageJobOptions) throws -> String {
        let format = options.format ?? ImageFormat(extensionOf: path) ?? .png
        let wanted = bitDepth ?? input.png?.bitDepth ?? 8
        guard format.bitDepths.contains(wanted) || bitDepth == nil else {
            throw CLIError(.usage, "--bit-depth \(wanted): \(format.rawValue) holds \(format.bitDepths.map(String.init).joined(separator: " or "))-bit samples")
        }
        let depth = format.bitDepths.contains(wanted) ? wanted : 8
        do {
            let image = try ImageTensors.restored(t, like: input.png, bitDepth: depth)
            var encode = options.encodeOptions
            encode.iccProfile = input.decoded?.iccProfile
            try ImageCodecs.write(image, to: path, format: format, options: encode)
        } catch let e as ModelError {
            throw CLIError(.usage, e.reason)
        } catch let e as ImageIOError {
            throw CLIError(.writeFailed, e.file == nil ? "\(path): \(e.reason)" : e.description)
        }
        return "\(format.rawValue)-\(depth)bit"
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
