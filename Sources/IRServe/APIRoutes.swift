import Foundation
import Hummingbird

/// The JSON API (docs/serve-openapi.json). The page uses exactly these routes.
struct APIRoutes: Sendable {
    let configuration: ServeConfiguration
    let engine: any JobEngine
    let queue: JobQueue
    let folder: PrivateFolder

    func add(to router: Router<BasicRequestContext>) {
        let api = router.group("api")
        api.get("info") { _, _ in try json(info) }
        api.get("models") { _, _ in try await models() }
        api.get("jobs") { _, _ in try json(JobList(jobs: await queue.list())) }
        api.post("jobs") { request, _ in try await submit(request) }
        api.get("jobs/:id") { _, context in
            guard let id = jobID(context), let s = await queue.snapshot(id) else { return notFound() }
            return try json(s)
        }
        api.post("jobs/:id/cancel") { _, context in
            guard let id = jobID(context), let s = await queue.cancel(id) else { return notFound() }
            return try json(s)
        }
        api.get("jobs/:id/events") { _, context in
            guard let id = jobID(context), let stream = await queue.events(id) else { return notFound() }
            return eventStream(stream)
        }
        api.get("jobs/:id/input") { _, context in
            guard let id = jobID(context), let s = await queue.snapshot(id), let path = await queue.inputPath(id) else { return notFound() }
            return try await file(path, type: ImageTypes.mediaType(s.input.format), context: context)
        }
        api.get("jobs/:id/result") { _, context in
            guard let id = jobID(context), let s = await queue.snapshot(id) else { return notFound() }
            guard let path = await queue.resultPath(id) else {
                return ErrorBody.response(.conflict, "job \(id) has no result (it is \(s.state.rawValue))")
            }
            var response = try await file(path, type: "image/png", context: context)
            response.headers[.contentDisposition] = "attachment; filename=\"\(UploadName.resultName(for: s.input.name))\""
            return response
        }
    }

    // MARK: - replies

    struct Info: Codable {
        var version: String
        var maxUploadBytes: Int
        var maxPixels: Int
        var queueCapacity: Int
        var tokenRequired: Bool
        enum CodingKeys: String, CodingKey {
            case version, maxUploadBytes = "max_upload_bytes", maxPixels = "max_pixels", queueCapacity = "queue_capacity", tokenRequired = "token_required"
        }
    }

    struct ModelList: Codable { var models: [ServeModel] }
    struct JobList: Codable { var jobs: [JobSnapshot] }

    var info: Info {
        Info(version: ServeServer.version, maxUploadBytes: configuration.maxUploadBytes, maxPixels: configuration.maxPixels,
             queueCapacity: configuration.queueCapacity, tokenRequired: configuration.token != nil)
    }

    func models() async throws -> Response {
        do {
            return try json(ModelList(models: try await offThread { try engine.models() }))
        } catch {
            return ErrorBody.response(.internalServerError, "cannot read the store: \(error)")
        }
    }

    // MARK: - submitting a job

    func submit(_ request: Request) async throws -> Response {
        // Refused before a byte of the body is read when the client announces too much.
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxUploadBytes {
            return tooLarge()
        }
        var body = ByteBuffer()
        for try await chunk in request.body {
            guard body.readableBytes + chunk.readableBytes <= configuration.maxUploadBytes else { return tooLarge() }
            var c = chunk
            body.writeBuffer(&c)
        }
        let form: UploadForm
        do {
            form = try UploadForm.parse(contentType: request.headers[.contentType], body: body)
        } catch let e as JobFailure {
            return failure(e)
        }
        // Full before any file is written: the cheap refusal for a client that floods the queue.
        if await queue.active >= queue.capacity { return queueFull() }
        do {
            let (submission, options) = try await validated(form)
            let id = UUID().uuidString.lowercased()
            let dir = try folder.makeJobFolder(id)
            do {
                let input = try await store(form.files["image"]!, as: "input", in: dir)
                var reference: (path: String, upload: JobSnapshot.Upload)?
                if let file = form.files["reference"] { reference = try await store(file, as: "reference", in: dir) }
                var s = submission
                s.input = input.upload
                s.reference = reference?.upload
                s.prompt = options.prompt
                s.steps = options.steps
                s.seed = options.seed
                let snapshot = try await queue.submit(s, id: id, folder: dir, inputPath: input.path, referencePath: reference?.path)
                var response = try json(snapshot, status: .accepted)
                response.headers[.location] = "/api/jobs/\(id)"
                return response
            } catch {
                try? FileManager.default.removeItem(atPath: dir)
                throw error
            }
        } catch let e as JobFailure {
            return failure(e)
        } catch JobQueue.SubmitError.full {
            return queueFull()
        }
    }

    struct Options { var prompt: String?; var steps: Int?; var seed: UInt64? }

    /// The form's fields against the model: it exists, can run, and takes the options given.
    func validated(_ form: UploadForm) async throws -> (JobQueue.Submission, Options) {
        guard let name = form.fields["model"], !name.isEmpty else { throw JobFailure.badRequest("the form needs a 'model' field") }
        guard form.files["image"] != nil else { throw JobFailure.badRequest("the form needs an 'image' file") }
        let all = try await offThread { try engine.models() }
        guard let model = all.first(where: { $0.name == name }) else {
            throw JobFailure.notFound("no installed model is named '\(UploadName.display(name))' (GET /api/models lists them)")
        }
        guard model.runnable else { throw JobFailure.badRequest("\(model.name) cannot run here: \(model.reason ?? "not runnable")") }
        var options = Options()
        let diffusionOnly = ["prompt", "steps", "seed"].filter { form.fields[$0] != nil }
        if model.kind != "diffusion", let first = diffusionOnly.first {
            throw JobFailure.badRequest("'\(first)' is for diffusion models; \(model.name) is a \(model.family) model")
        }
        options.prompt = form.fields["prompt"]
        if let s = form.fields["steps"] {
            guard let v = Int(s), (1...1000).contains(v) else { throw JobFailure.badRequest("'steps' must be 1...1000") }
            options.steps = v
        }
        if let s = form.fields["seed"] {
            guard let v = UInt64(s) else { throw JobFailure.badRequest("'seed' must be a whole number 0...\(UInt64.max)") }
            options.seed = v
        }
        let placeholder = JobSnapshot.Upload(name: "", format: "", width: 0, height: 0, bytes: 0)
        return (JobQueue.Submission(model: model.name, input: placeholder, reference: nil), options)
    }

    /// Writes an upload into the job's folder under a name the server chose, reads its header and
    /// refuses it, before anything decodes it, if it is not an image or has too many pixels.
    func store(_ file: UploadForm.File, as role: String, in dir: String) async throws -> (path: String, upload: JobSnapshot.Upload) {
        let staged = dir + "/" + role + ".upload"
        guard FileManager.default.createFile(atPath: staged, contents: Data(file.bytes.readableBytesView), attributes: [.posixPermissions: 0o600]) else {
            throw JobFailure.failed("cannot store the upload in the private folder (disk full?)")
        }
        let header: ImageHeader
        do {
            header = try await offThread { try engine.header(ofImageAt: staged) }
        } catch let e as JobFailure {
            throw JobFailure.unreadable("\(role) '\(file.name)': \(e)")
        } catch {
            throw JobFailure.unreadable("\(role) '\(file.name)': \(error)")
        }
        let (pixels, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        guard header.width > 0, header.height > 0, !overflow, pixels <= configuration.maxPixels else {
            throw JobFailure.tooManyPixels("\(role) '\(file.name)' is \(header.width)x\(header.height) pixels, over this server's limit of \(configuration.maxPixels) (refused before decoding)")
        }
        guard let ext = ImageTypes.fileExtension(header.format) else {
            throw JobFailure.unreadable("\(role) '\(file.name)': \(header.format) images are not taken")
        }
        let path = dir + "/" + role + "." + ext
        guard rename(staged, path) == 0 else { throw JobFailure.failed("cannot store the upload: \(String(cString: strerror(errno)))") }
        return (path, JobSnapshot.Upload(name: file.name, format: header.format, width: header.width, height: header.height, bytes: file.bytes.readableBytes))
    }

    // MARK: - helpers

    func jobID(_ context: BasicRequestContext) -> String? {
        // Only ids this server could have made; anything else never reaches the queue.
        guard let id = context.parameters.get("id"), id.count == 36, UUID(uuidString: id) != nil, id == id.lowercased() else { return nil }
        return id
    }

    func file(_ path: String, type: String, context: BasicRequestContext) async throws -> Response {
        let body = try await FileIO().loadFile(path: path, context: context)
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: body)
    }

    func eventStream(_ stream: AsyncStream<JobSnapshot>) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for await snapshot in stream {
                let data = try encoder.encode(snapshot)
                var buffer = ByteBuffer(string: "event: job\ndata: ")
                buffer.writeBytes(data)
                buffer.writeString("\n\n")
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    func failure(_ e: JobFailure) -> Response {
        switch e {
        case .badRequest(let m): return ErrorBody.response(.badRequest, m)
        case .notFound(let m): return ErrorBody.response(.notFound, m)
        case .unreadable(let m): return ErrorBody.response(.unprocessableContent, m)
        case .tooManyPixels(let m): return ErrorBody.response(.contentTooLarge, m)
        case .cancelled: return ErrorBody.response(.conflict, "cancelled")
        case .failed(let m): return ErrorBody.response(.internalServerError, m)
        }
    }

    func notFound() -> Response { ErrorBody.response(.notFound, "no such job (ids come from POST /api/jobs; finished jobs are kept for a while)") }

    func tooLarge() -> Response {
        ErrorBody.response(.contentTooLarge, "the upload is over this server's limit of \(configuration.maxUploadBytes) bytes")
    }

    func queueFull() -> Response {
        ErrorBody.response(.tooManyRequests, "the queue is full (\(configuration.queueCapacity) jobs waiting or running); try again when one finishes",
                           headers: [.retryAfter: "2"])
    }
}

/// Encodes a reply as JSON (keys sorted, so replies are stable to read and to diff).
func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Runs blocking work (store reads, header probes) on a thread of its own, not on the
/// concurrency pool's few threads, which must stay free to answer requests.
func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

enum ImageTypes {
    /// The formats an upload may have, by the engine's name, with the extension the stored file gets.
    static let extensions = ["png": "png", "jpeg": "jpg", "tiff": "tif", "webp": "webp"]

    static func fileExtension(_ format: String) -> String? { extensions[format] }

    static func mediaType(_ format: String) -> String {
        ["png": "image/png", "jpeg": "image/jpeg", "tiff": "image/tiff", "webp": "image/webp"][format] ?? "application/octet-stream"
    }
}
