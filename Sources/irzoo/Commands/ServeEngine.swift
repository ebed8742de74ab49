import Foundation
import IRImage
import IRJobs
import IRModels
import IRRegistry
import IRRuntime
import IRServe
import IRStore

/// The job engine `irzoo serve` drives: the shared `RestorationEngine` (IRJobs: header probe,
/// decode with orientation and ICC, memory-planned tiling, cancellation at the next op, encode,
/// atomic write), with the model loaded and configured by `irzoo run`'s own steps, so a job's
/// result is the file `irzoo run --input IN --output OUT.png` writes.
final class ServeRunEngine: JobEngine, @unchecked Sendable {
    /// One loaded model and its engine per installed model, kept between jobs (the queue runs
    /// one job at a time per model; the engine keeps its memory calibration).
    private struct Loaded {
        var digest: String
        var model: RunModelLoader.Loaded
        var engine: RestorationEngine
    }

    private let lock = NSLock()
    private var loaded = [String: Loaded]()
    let threads: Int?
    /// `--max-memory` for every job, as `irzoo run` takes it.
    let maxMemory: String?

    init(threads: Int?, maxMemory: String? = nil) {
        self.threads = threads
        self.maxMemory = maxMemory
    }

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
        if let manifest { return RegistryListing.runnability(manifest) }
        return ModelFactory.canRun(family: family) ? (true, nil) : (false, "this build has no Swift model of family '\(family)'")
    }

    func header(ofImageAt path: String) throws -> ImageHeader {
        do {
            let p = try ImageCodecs.probe(path: path)
            return ImageHeader(format: p.format.rawValue, width: p.width, height: p.height)
        } catch let e as ImageIOError {
            throw JobFailure.unreadable(e.reason)
        }
    }

    func run(_ job: JobRequest, progress: @escaping @Sendable (JobProgress) -> Void, cancellation: JobCancellation) throws -> JobResult {
        do {
            return try restore(job, progress: progress, cancellation: cancellation)
        } catch is CancellationError {
            throw JobFailure.cancelled
        } catch let e as CLIError {
            throw e.status == .unreadableInput || e.status == .usage ? JobFailure.unreadable(e.message) : JobFailure.failed(e.message)
        } catch let e as ImageIOError {
            throw JobFailure.unreadable(e.reason)
        } catch let e as ModelError {
            throw JobFailure.unreadable(e.reason)
        } catch let e as RuntimeError {
            throw JobFailure.failed("\(job.model): \(e.description)")
        }
    }

    private func restore(_ job: JobRequest, progress: @escaping @Sendable (JobProgress) -> Void, cancellation: JobCancellation) throws -> JobResult {
        // The options `irzoo run` would parse for this job, so the diffusion settings and the
        // engine's defaults (memory budget, encoding) are the CLI's.
        var args = [job.model, "--input", job.input, "--output", job.output]
        if let p = job.prompt { args += ["--prompt", p] }
        if let s = job.steps { args += ["--steps", String(s)] }
        if let s = job.seed { args += ["--seed", String(s)] }
        if let m = maxMemory { args += ["--max-memory", m] }
        let options = try Run.parse(args)
        let entry = try load(job.model, settings: options.images.settings(tile: nil, overlap: nil, aux: [:]))
        let model = entry.model.model
        try RunRouting.force(nil, on: model, name: job.model)
        let diffusion = try RunDiffusion.configure(model, run: options, storedVocabulary: entry.model.vocabulary)
        entry.engine.settings = options.images.settings(tile: nil, overlap: nil, aux: [:])

        // A reference is checked against the input before any work.
        var reference: (input: RunInput, image: (path: String, image: RasterImage))?
        if let path = job.reference {
            let input = try RunInput.read(job.input, kind: .image, channels: model.inputChannels)
            reference = (input, try RunQuality.read(path, matching: input, scale: model.scale))
        }
        let token = CancellationToken()
        cancellation.onCancel { token.cancel() }
        let result = try entry.engine.restore(BatchItem(input: job.input, output: job.output), cancel: token) { event in
            switch event {
            case .planned(_, _, let tiles) where tiles > 1: progress(JobProgress(done: 0, total: tiles, unit: "tiles"))
            case .progress(_, let done, let total, let unit): progress(JobProgress(done: done, total: total, unit: unit.rawValue))
            default: break
            }
        }
        let quality = try reference.map { try RunQuality.measure($0.image, input: $0.input, output: job.output, outKind: .image, result: nil) }
        return JobResult(width: result.width * result.scale, height: result.height * result.scale, format: result.format.rawValue, seconds: result.seconds,
                         tiling: result.tiling, route: result.routes.isEmpty ? nil : result.routes,
                         metrics: quality.map { QualityMetrics(psnrInput: $0.input, psnrOutput: $0.output, ssimInput: $0.ssimInput, ssimOutput: $0.ssimOutput) },
                         notes: entry.model.notes + diffusion.notes + result.notes + (result.tilingNote.map { ["tiles approximate the whole image: \($0)"] } ?? []))
    }

    private func load(_ name: String, settings: RestorationEngine.Settings) throws -> Loaded {
        let store = try StoreAccess.open(sweep: false)
        let m = try store.manifest(named: name)
        if let hit = lock.withLock({ loaded[name] }), hit.digest == m.blob.digest { return hit }
        let model = try RunModelLoader.load(m, store: store, threads: threads)
        let entry = Loaded(digest: m.blob.digest, model: model, engine: RestorationEngine(model: model.model, settings: settings))
        lock.withLock { loaded[name] = entry }
        return entry
    }
}
