#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import IRImage
import IRJobs
import IRModels
import IRRuntime
import IRTensor

/// `irzoo run`'s image options: output encoding, limits, and the batch form's folder handling.
struct ImageJobOptions: ParsableArguments {
    @Option(name: .long, help: "Output format whatever the output's extension: png, jpeg, tiff or webp (default: the extension's; in a batch, each input's own).")
    var format: ImageFormat?

    @Option(name: .long, help: "JPEG and lossy WebP quality, 1-100 (default 95; JPEG chroma is 4:4:4 at 90 and above, else 4:2:0).")
    var quality: Int = 95

    @Option(name: .long, help: "TIFF output compression: none, lzw or deflate (default deflate; all lossless).")
    var tiffCompression: TIFFCompression = .deflate

    @Flag(name: .long, help: "WebP output: lossless instead of lossy.")
    var lossless = false

    @Option(name: .long, help: "Memory a forward pass and its image may take, e.g. 8G or 512M (default: half of RAM); bigger images run in tiles chosen to fit.")
    var maxMemory: String?

    @Option(name: .long, help: "Refuse images whose header claims more pixels than this, before decoding (default 178956970, PIL's limit).")
    var maxPixels: Int = ImageLimits.defaultMaxPixels

    @Flag(name: .long, help: "Batch form: also restore the images in sub-folders (same relative paths under the output folder).")
    var recursive = false

    @Flag(name: .long, help: "Batch form: leave outputs that exist (resumes an interrupted batch).")
    var skipExisting = false

    func validate() throws {
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1") }
        if let maxMemory, SystemMemory.parse(maxMemory) == nil { throw ValidationError("--max-memory \(maxMemory): expected bytes, or a size such as 8G or 512M") }
    }

    var budget: Int { maxMemory.flatMap(SystemMemory.parse) ?? SystemMemory.defaultBudget }

    var encodeOptions: EncodeOptions { EncodeOptions(quality: quality, tiffCompression: tiffCompression, lossless: lossless) }

    func settings(tile: Int?, overlap: Int?, aux: [String: Tensor], bitDepth: Int? = nil) -> RestorationEngine.Settings {
        var s = RestorationEngine.Settings()
        s.tile = tile
        s.overlap = overlap
        s.maxMemory = budget
        s.maxPixels = maxPixels
        s.encode = encodeOptions
        s.encode.bitDepth = bitDepth
        s.format = format
        s.skipExisting = skipExisting
        s.aux = aux
        return s
    }
}

extension ImageFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension TIFFCompression: ExpressibleByArgument {}

/// `irzoo run NAME --input DIR|A.jpg B.png ... --output DIR`: many images through one loaded
/// model, on the job engine. One progress bar on a terminal, a plain line per image otherwise,
/// one JSON line per image with --json; a file that fails is reported and skipped, and the exit
/// status says so at the end.
enum RunBatch {
    static func isBatch(_ c: Run) -> Bool {
        var isDir: ObjCBool = false
        let inputIsDir = c.inputs.count == 1 && FileManager.default.fileExists(atPath: c.input, isDirectory: &isDir) && isDir.boolValue
        var outDir: ObjCBool = false
        let outputIsDir = FileManager.default.fileExists(atPath: c.output, isDirectory: &outDir) && outDir.boolValue
        return c.inputs.count > 1 || inputIsDir || outputIsDir || c.output.hasSuffix("/")
    }

    static func run(_ c: Run) throws {
        for (flag, given) in [("--reference", c.reference != nil), ("--repeat", c.repeat != 1), ("--prompt", c.prompt != nil),
                              ("--vae-mode", c.vaeMode != nil && c.vaeMode != "roundtrip")] where given {
            throw CLIError(.usage, "\(flag) is for one input file, not a batch")
        }
        if let tile = c.tile, let overlap = c.overlap, overlap >= tile { throw CLIError(.usage, "--overlap \(overlap) must be smaller than --tile \(tile)") }
        for path in c.inputs where path.lowercased().hasSuffix(".npy") {
            throw CLIError(.usage, "\(path): a batch restores image files; run .npy arrays one at a time")
        }
        var outDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: c.output, isDirectory: &outDir), !outDir.boolValue {
            throw CLIError(.usage, "--output \(c.output): a batch writes into a folder, and this is a file")
        }
        let items: [BatchItem]
        do { items = try BatchPlan.items(inputs: c.inputs, output: c.output, recursive: c.images.recursive, format: c.images.format) } catch let e as ImageIOError {
            throw CLIError(.unreadableInput, e.description)
        }
        guard !items.isEmpty else {
            throw CLIError(.unreadableInput, "\(c.inputs.joined(separator: ", ")): no images (.png .jpg .jpeg .tif .tiff .webp)\(c.images.recursive ? "" : "; --recursive enters sub-folders")")
        }

        let store = try StoreAccess.open()
        let installed = try store.manifest(named: c.name)
        let loaded = try RunModelLoader.load(installed, store: store, threads: c.threads)
        let model = loaded.model
        guard model.outputKind == .image else {
            throw CLIError(.usage, "\(c.name) is a \(model.family) model: it returns tokens, not images")
        }
        try RunRouting.force(c.expert, on: model, name: c.name)
        _ = try RunDiffusion.configure(model, run: c, storedVocabulary: loaded.vocabulary)
        let aux = try c.aux.map { try RunInput.readAux($0) } ?? [:]

        let engine = RestorationEngine(model: model, settings: c.images.settings(tile: c.tile, overlap: c.overlap, aux: aux, bitDepth: c.bitDepth))
        let view = BatchView(total: items.count, json: c.printing.json, name: c.name)
        let summary = engine.run(items) { event in
            view.show(event)
            if case .imageFinished = event { TestHooks.pause(at: "image-written") }
        }
        view.finish(summary)
        if !summary.failed.isEmpty {
            throw CLIError(.failure, "\(summary.failed.count) of \(items.count) image\(items.count == 1 ? "" : "s") failed (named above); the others were restored")
        }
    }
}

/// Renders a batch's events: a redrawn bar on a terminal (images done / total, the current
/// image's tiles, rate, ETA), a plain line per image otherwise, or JSON lines on stdout.
final class BatchView {
    private let total: Int
    private let json: Bool
    private let name: String
    private let tty = Terminal.stderrIsTTY
    private let start = Terminal.now()
    private var done = 0
    private var current = ""
    private var detail = ""
    private var lastDraw = 0.0

    init(total: Int, json: Bool, name: String) {
        self.total = total
        self.json = json
        self.name = name
    }

    func show(_ event: JobEvent) {
        switch event {
        case .imageStarted(_, _, let input):
            current = input
            detail = ""
            draw(force: true)
        case .planned:
            break
        case .progress(_, let d, let t, let unit):
            detail = unit == .tiles ? "tile \(d)/\(t)" : ""
            draw(force: false)
        case .imageFinished(let r):
            done += 1
            clear()
            if json {
                print(r.json.serialized(pretty: false))
                fflush(stdout)
            } else {
                var line = "[\(done + failures)/\(total)] \(r.input) -> \(r.output) \(r.width)x\(r.height)\(r.scale > 1 ? " -> \(r.width * r.scale)x\(r.height * r.scale)" : "") in \(Terminal.format(r.seconds, 2)) s (\(r.tiling))"
                if let icc = r.iccBytes { line += ", ICC profile carried (\(icc) bytes)" }
                if r.orientation != 1 { line += ", EXIF orientation \(r.orientation) applied" }
                Terminal.say(line)
                for route in r.routes { Terminal.say("route: \(route)") }
                for n in r.notes { Terminal.say("note: \(n)") }
            }
        case .imageSkipped(_, let input, let output):
            skipped += 1
            clear()
            if json {
                print(JSON.object([("status", .string("skipped")), ("input", .string(input)), ("output", .string(output))]).serialized(pretty: false))
            } else {
                Terminal.say("[\(done + failures + skipped)/\(total)] \(input): skipped, \(output) exists")
            }
        case .imageFailed(_, let input, let output, let error):
            failures += 1
            clear()
            Terminal.printError("irzoo: error: \(error)")
            if json {
                print(JSON.object([("status", .string("failed")), ("input", .string(input)), ("output", .string(output)), ("error", .string(error))]).serialized(pretty: false))
                fflush(stdout)
            }
        }
    }

    private var failures = 0
    private var skipped = 0

    func finish(_ s: BatchSummary) {
        clear()
        if json {
            print(JSON.object([("status", .string("summary")), ("model", .string(name)), ("restored", .int(s.restored)), ("skipped", .int(s.skipped)),
                               ("failed", .int(s.failed.count)), ("seconds", .double(s.seconds)),
                               ("peak_rss_bytes", .int(SystemMemory.peakResident))]).serialized(pretty: false))
        } else {
            Terminal.say("\(name): \(s.restored) restored, \(s.skipped) skipped, \(s.failed.count) failed in \(Terminal.format(s.seconds, 1)) s")
        }
    }

    private func draw(force: Bool) {
        guard tty else { return }
        let now = Terminal.now()
        guard force || now - lastDraw >= 0.1 else { return }
        lastDraw = now
        let finished = done + failures + skipped
        let width = 24, filled = total > 0 ? finished * width / total : 0
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let elapsed = now - start
        let rate = done > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? " ETA \(Terminal.format(Double(total - finished) / rate, 0)) s" : ""
        let name = (current as NSString).lastPathComponent
        fputs("\r\u{1B}[2K[\(bar)] \(finished)/\(total) images \(rate > 0 ? Terminal.format(rate, 2) + " img/s" : "")\(eta)  "
              + Terminal.escaped(name) + (detail.isEmpty ? "" : " " + detail), stderr)
    }

    private func clear() {
        if tty { fputs("\r\u{1B}[2K", stderr) }
    }
}
