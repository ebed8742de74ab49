import Foundation
import IRImage
import IRModels
import IRRegistry
import IRServe
import IRStore
import IRTensor

/// The job engine `irzoo serve` drives, built from `irzoo run`'s own steps (load, read, check,
/// forward, write, PSNR), so a job's result is the file `irzoo run` writes for the same input.
///
/// Interim: issue 13's Jobs module (branch images-batch) replaces this with the shared engine
/// (codecs, auto-tiling, cancellation inside the pass); until then PNG only, tiles of 512 px above
/// `autoTilePixels`, and a cancel during a forward pass takes effect when the pass ends.
final class ServeRunEngine: JobEngine, @unchecked Sendable {
    /// The image models load once and stay (the queue runs one job at a time per model).
    private let lock = NSLock()
    private var loaded = [String: (digest: String, model: RunModelLoader.Loaded)]()
    let threads: Int?
    static let autoTilePixels = 2048 * 2048
    static let autoTile = 512

    init(threads: Int?) { self.threads = threads }

    func models() throws -> [ServeModel] {
        let store = try StoreAccess.open(sweep: false)
        let zoo = try Zoo.embedded()
        return try store.manifests().models.map { m in
            let manifest = zoo.manifest(m.architecture)
            let family = manifest?.family ?? m.architecture
            let (runnable, reason) = Self.runnability(architecture: m.architecture, family: family, manifest: manifest)
            let kind = family == UniLDiffConfig.family ? "diffusion"
                : [UniRestorerConfig.family, UniRestorerLoRAConfig.family].contains(family) ? "routed" : "image"
            return ServeModel(name: m.name, architecture: m.architecture, family: family, title: manifest?.title ?? m.architecture,
                              tasks: manifest?.tasks ?? [], bytes: m.blob.size, runnable: runnable, reason: reason, kind: kind)
        }
    }

    static func runnability(architecture: String, family: String, manifest: ZooManifest?) -> (Bool, String?) {
        if architecture == "raw" { return (false, "installed as raw tensors, with no architecture") }
        if [CLIPVisionConfig.family, CLIPTextConfig.family, SDXLUNetConfig.family].contains(family) {
            return (false, "a \(family) model does not turn an image into an image (use `irzoo run`)")
        }
        if let manifest { return Available.runnability(manifest) }
        return ModelFactory.canRun(family: family) ? (true, nil) : (false, "this build has no Swift model of family '\(family)'")
    }

    func header(ofImageAt path: String) throws -> ImageHeader {
        // Interim: the 8-byte signature and the IHDR chunk only; images-batch's ImageCodecs.probe takes over.
        guard let h = FileHandle(forReadingAtPath: path) else { throw JobFailure.unreadable("cannot be opened") }
        defer { try? h.close() }
        let b = [UInt8](h.readData(ofLength: 24))
        guard b.count == 24, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
              b[12..<16].elementsEqual(Array("IHDR".utf8)) else {
            throw JobFailure.unreadable("not a PNG image (this build's server takes PNG)")
        }
        func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return ImageHeader(format: "png", width: be(16), height: be(20))
    }

    func run(_ job: JobRequest, progress: @escaping @Sendable (JobProgress) -> Void,
             isCancelled: @escaping @Sendable () -> Bool) throws -> JobResult {
        do {
            return try runChecked(job, progress: progress, isCancelled: isCancelled)
        } catch let e as CLIError {
            throw e.status == .unreadableInput || e.status == .usage ? JobFailure.unreadable(e.message) : JobFailure.failed(e.message)
        }
    }

    private func runChecked(_ job: JobRequest, progress: @escaping @Sendable (JobProgress) -> Void,
                            isCancelled: @escaping @Sendable () -> Bool) throws -> JobResult {
        let started = Date()
        let store = try StoreAccess.open(sweep: false)
        let installed = try store.manifest(named: job.model)
        let model = try load(installed, store: store)
        // The same options `irzoo run` parses, so the diffusion settings go through its checks.
        var args = [job.model, "--input", job.input, "--output", job.output]
        if let p = job.prompt { args += ["--prompt", p] }
        if let s = job.steps { args += ["--steps", String(s)] }
        if let s = job.seed { args += ["--seed", String(s)] }
        if let r = job.reference { args += ["--reference", r] }
        let options = try Run.parse(args)
        try RunRouting.force(nil, on: model.model, name: job.model)
        let diffusion = try RunDiffusion.configure(model.model, run: options, storedVocabulary: model.vocabulary)

        let image = try RunInput.read(job.input, kind: .png, channels: model.model.inputChannels)
        try RunInput.check(image.tensor, for: model.model, path: "the image")
        let reference = try job.reference.map { try RunQuality.read($0, matching: image) }
        guard !isCancelled() else { throw JobFailure.cancelled }

        let (h, w) = (image.tensor.shape[2], image.tensor.shape[3])
        let result: Tensor
        var tiling = "whole image"
        do {
            if h * w > Self.autoTilePixels, model.model.tiling.allowsTiles {
                let plan = try TilePlan(tile: Self.autoTile, overlap: min(32, Self.autoTile / 4))
                tiling = "tiles of \(Self.autoTile) px, overlap \(plan.overlap) px"
                result = try TiledInference.run(model.model, image: image.tensor, plan: plan) { progress(JobProgress(done: $0, total: $1, unit: "tiles")) }
            } else {
                result = try model.model.run(image.tensor, aux: [:]) { progress(JobProgress(done: $0, total: $1, unit: "steps")) }
            }
        } catch let e as ModelError {
            throw JobFailure.unreadable(e.reason)
        }
        guard !isCancelled() else { throw JobFailure.cancelled }
        let depth = image.png?.bitDepth ?? 8
        try RunOutput.writePNG(result, like: image, to: job.output, bitDepth: depth)
        let quality = try reference.map { try RunQuality.measure($0, input: image, output: job.output, outKind: .png, result: result) }
        let route = RunRouting.lines(model.model)
        return JobResult(width: result.shape[3], height: result.shape[2], format: "png-\(depth)bit",
                         seconds: Date().timeIntervalSince(started), tiling: tiling, route: route.isEmpty ? nil : route,
                         metrics: quality.map { QualityMetrics(psnrInput: $0.input, psnrOutput: $0.output, ssimInput: $0.ssimInput, ssimOutput: $0.ssimOutput) },
                         notes: model.notes + diffusion.notes)
    }

    private func load(_ m: StoreManifest, store: ModelStore) throws -> RunModelLoader.Loaded {
        if let hit = lock.withLock({ loaded[m.name] }), hit.digest == m.blob.digest { return hit.model }
        let model = try RunModelLoader.load(m, store: store, threads: threads)
        lock.withLock { loaded[m.name] = (m.blob.digest, model) }
        return model
    }
}

extension TilingSupport {
    var allowsTiles: Bool {
        if case .unsupported = self { return false }
        return true
    }
}
