#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Foundation
import IRFormat
import IRStore
import IRTensor
import NIOCore
import NIOHTTP1

/// Blob and manifest endpoints (distribution-spec "Pull", "Push", "Content discovery").
extension RegistryClient {
    public enum UploadAction: String, Sendable {
        /// The registry had it (HEAD); nothing was sent.
        case exists
        /// Mounted from another repository of the same registry; nothing was sent.
        case mounted
        case uploaded
    }

    public struct UploadResult: Sendable {
        public var action: UploadAction
        public var bytesSent: Int
        /// Chunk uploads continued from the registry's offset after a failure.
        public var resumes: Int
        /// Uploads started again because the registry lost the session.
        public var restarts: Int = 0
        public var mountedFrom: String?
    }

    public struct DownloadResult: Sendable {
        public var bytesReceived: Int
        /// Where the download continued with an HTTP Range request (nil: from the start).
        public var resumedAt: Int?
    }

    /// What a blob upload reads: small bytes in memory, or an open file (read as it is sent).
    public enum BlobSource {
        case bytes([UInt8])
        case file(fd: Int32)
    }

    // MARK: push

    /// Makes blob `d` exist in `repository`: HEAD first (skip), then a cross-repository mount
    /// from each of `mountFrom`, else an upload: one PUT for bytes, chunks (POST, PATCH with
    /// Content-Range, PUT ?digest=) for a file, resumed from the registry's offset after a failure.
    func uploadBlob(_ d: Descriptor, from source: BlobSource, mountFrom: [String] = [], chunkSize: Int,
                    progress: (@Sendable (Int) -> Void)? = nil, step: ((String) -> Void)? = nil) async throws -> UploadResult {
        let repo = reference.repository
        let scopes = [Self.scope(repo, "pull,push")]
        let short = String(d.digest.prefix(19))
        // (A response body is read once: by `drain`, or by `expect` when it fails.)
        let head = try await send(RegistryRequest(method: .HEAD, url: url("blobs/\(d.digest)"), what: "HEAD blob \(short)"), scopes: scopes)
        try await expect(head, [200, 404], "HEAD blob \(short) in \(repo)")
        _ = await Self.drain(head)
        if head.status.code == 200 { return UploadResult(action: .exists, bytesSent: 0, resumes: 0) }

        var session: String? = nil
        var minChunk = 0
        for from in mountFrom where from != repo {
            let r = try await send(RegistryRequest(method: .POST, url: url("blobs/uploads/?mount=\(d.digest)&from=\(from)"),
                                                   what: "mount blob \(short) from \(from)"),
                                   scopes: scopes + [Self.scope(from, "pull")])
            _ = await Self.drain(r)
            if r.status.code == 201 { return UploadResult(action: .mounted, bytesSent: 0, resumes: 0, mountedFrom: from) }
            if r.status.code == 202, let location = r.headers.first(name: "Location") {
                session = resolve(location, against: url("blobs/uploads/"))
                minChunk = r.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int($0) } ?? 0
                break // the registry could not mount and opened an upload session instead
            }
        }

        var sent = 0, resumes = 0, restarts = 0
        while true {
            if session == nil { (session, minChunk) = try await startUpload(short) }
            var location = session!
            switch source {
            case .bytes(let bytes):
                let r = try await send(RegistryRequest(method: .PUT, url: Self.appending(digest: d.digest, to: location),
                                                       headers: ["Content-Type": "application/octet-stream"], body: .bytes(bytes),
                                                       what: "PUT blob \(short)"), scopes: scopes)
                try await finishUpload(r, d, short)
                return UploadResult(action: .uploaded, bytesSent: bytes.count, resumes: 0)
            case .file(let fd):
                let chunk = max(chunkSize, minChunk, 1)
                let hasher = StreamHasher()
                var offset = 0
                var paused = false
                var failures = 0
                var lostSession = false
                while offset < d.size {
                    let length = min(chunk, d.size - offset)
                    let base = offset, before = sent
                    let request = RegistryRequest(
                        method: .PATCH, url: location,
                        headers: ["Content-Type": "application/octet-stream", "Content-Range": "\(offset)-\(offset + length - 1)"],
                        body: .file(fd: fd, offset: offset, length: length, hasher: hasher,
                                    progress: progress.map { p in { @Sendable n in p(base + n) } }),
                        retryTransient: false, what: "PATCH blob \(short) bytes \(offset)-\(offset + length - 1)")
                    var failure: String? = nil
                    do {
                        let r = try await send(request, scopes: scopes)
                        if r.status.code == 202 {
                            _ = await Self.drain(r)
                            if let next = r.headers.first(name: "Location") { location = resolve(next, against: location) }
                            let end = r.headers.first(name: "Range").flatMap(Self.rangeEnd) ?? (offset + length)
                            guard end <= d.size else { throw DistributionError(.registry, "PATCH blob \(short): the registry reports \(end) bytes received of \(d.size)") }
                            sent = before + (end - offset)
                            offset = end
                        } else if RetryPolicy.isTransient(r.status.code) || r.status.code == 416 {
                            failure = Self.statusLine(r.status.code, await Self.drain(r))
                        } else if r.status.code == 404 || r.status.code == 400 {
                            failure = Self.statusLine(r.status.code, await Self.drain(r))
                            lostSession = true
                        } else {
                            try await expect(r, [202], "PATCH blob \(short) to \(repo)")
                        }
                    } catch let e as DistributionError where e.kind == .registry {
                        failure = e.message // the connection failed (send does not retry a chunk itself)
                    } catch let e where !Self.isLocal(e) {
                        failure = Self.describe(e)
                    }
                    if !paused && offset * 2 >= d.size && d.size > 0 { paused = true; step?("uploading") }
                    guard let failure else { continue }
                    failures += 1
                    guard failures < retry.attempts else {
                        throw DistributionError(.registry, "upload of blob \(short) to \(repo): \(failure) (after \(failures) tries)")
                    }
                    let wait = retry.delay(after: failures, retryAfter: nil)
                    try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                    // Ask the registry where the upload stands and go on from there.
                    if !lostSession, let status = try? await uploadStatus(location, short) {
                        location = status.location
                        sent = before + max(0, status.offset - base)
                        offset = status.offset
                        resumes += 1
                        notice?("upload of blob \(short): \(failure); resuming at byte \(offset)")
                        continue
                    }
                    lostSession = true
                    break
                }
                if lostSession {
                    restarts += 1
                    guard restarts <= 3 else { throw DistributionError(.registry, "upload of blob \(short) to \(repo): the registry lost the upload \(restarts) times") }
                    notice?("upload of blob \(short): the registry lost the upload session; starting it again")
                    session = nil
                    continue
                }
                // What was sent must be what the digest names (the file could have changed since it was hashed).
                let computed = hasher.finish()
                guard computed == d.digest else {
                    _ = try? await send(RegistryRequest(method: .DELETE, url: location, retryTransient: false, what: "DELETE upload"), scopes: scopes)
                    throw DistributionError(.refused, "the blob changed while it was pushed: its bytes hash to \(computed), not \(d.digest); nothing was tagged")
                }
                let r = try await send(RegistryRequest(method: .PUT, url: Self.appending(digest: d.digest, to: location), what: "PUT blob \(short)"), scopes: scopes)
                try await finishUpload(r, d, short)
                return UploadResult(action: .uploaded, bytesSent: sent, resumes: resumes, restarts: restarts)
            }
        }
    }

    private func startUpload(_ short: String) async throws -> (String, Int) {
        let post = url("blobs/uploads/")
        let r = try await send(RegistryRequest(method: .POST, url: post, what: "POST upload of blob \(short)"),
                               scopes: [Self.scope(reference.repository, "pull,push")])
        guard r.status.code == 202, let location = r.headers.first(name: "Location") else {
            try await expect(r, [202], "POST upload of blob \(short) to \(reference.repository)")
            throw DistributionError(.registry, "POST upload of blob \(short): no Location in the answer")
        }
        _ = await Self.drain(r)
        return (resolve(location, against: post), r.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int($0) } ?? 0)
    }

    /// GET on an upload session: its location and the bytes the registry holds.
    private func uploadStatus(_ location: String, _ short: String) async throws -> (location: String, offset: Int)? {
        let r = try await send(RegistryRequest(method: .GET, url: location, what: "GET upload status of blob \(short)"),
                               scopes: [Self.scope(reference.repository, "pull,push")])
        _ = await Self.drain(r)
        guard r.status.code == 204 || r.status.code == 202 else { return nil }
        let next = r.headers.first(name: "Location").map { resolve($0, against: location) } ?? location
        return (next, r.headers.first(name: "Range").flatMap(Self.rangeEnd) ?? 0)
    }

    private func finishUpload(_ r: HTTPClientResponse, _ d: Descriptor, _ short: String) async throws {
        try await expect(r, [201], "PUT blob \(short) to \(reference.repository)")
        _ = await Self.drain(r)
        if let echoed = r.headers.first(name: "Docker-Content-Digest"), echoed != d.digest {
            throw DistributionError(.registry, "PUT blob \(short): the registry stored it as \(echoed)")
        }
    }

    /// "0-1023" (a registry's Range header for an upload) -> 1024 bytes held; "0-0" reads as none.
    public static func rangeEnd(_ header: String) -> Int? {
        let parts = header.trimmingSpaces.replacingOccurrences(of: "bytes=", with: "").split(separator: "-")
        guard parts.count == 2, let end = Int(parts[1]) else { return nil }
        return end == 0 ? 0 : end + 1
    }

    public static func appending(digest: String, to location: String) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + digest
    }

    func resolve(_ location: String, against base: String) -> String {
        URL(string: location, relativeTo: URL(string: base))?.absoluteURL.absoluteString ?? location
    }

    // MARK: pull

    /// Streams blob `d` into `partial` from where it stands (HTTP Range), hashing as it writes,
    /// and retrying with back-off when the connection drops. Refuses a blob longer than `d.size`
    /// or whose SHA-256 is not `d.digest`; the caller decides what happens to the partial file.
    func downloadBlob(_ d: Descriptor, into partial: PartialDownload, progress: (@Sendable (Int) -> Void)? = nil,
                      step: ((String) -> Void)? = nil) async throws -> DownloadResult {
        let short = String(d.digest.prefix(19))
        let what = "blob \(short) of \(reference.repository)"
        var have = partial.length
        if have > d.size { try partial.truncate(to: 0); have = 0 }
        var hasher = SHA256Hasher()
        if have > 0 { have = try rehash(partial, upTo: have, into: &hasher) }
        var resumedAt: Int? = have > 0 ? have : nil
        var received = 0, failures = 0
        var paused = have * 2 >= d.size
        while have < d.size {
            var headers = HTTPHeaders()
            if have > 0 { headers.add(name: "Range", value: "bytes=\(have)-") }
            let r = try await send(RegistryRequest(method: .GET, url: url("blobs/\(d.digest)"), headers: headers, what: "GET \(what)"),
                                   scopes: [Self.scope(reference.repository, "pull")])
            switch r.status.code {
            case 200:
                if have > 0 { // the registry ignored the range: start over
                    try partial.truncate(to: 0)
                    have = 0
                    hasher = SHA256Hasher()
                    resumedAt = nil
                }
            case 206:
                let start = r.headers.first(name: "Content-Range").flatMap { h -> Int? in
                    let v = h.trimmingSpaces
                    guard v.hasPrefix("bytes ") else { return nil }
                    return Int(v.dropFirst(6).split(separator: "-").first ?? "")
                }
                guard start == have else {
                    _ = await Self.drain(r)
                    throw DistributionError(.registry, "GET \(what): asked for bytes from \(have), got '\(r.headers.first(name: "Content-Range") ?? "no Content-Range")'")
                }
            default:
                try await expect(r, [200, 206], "GET \(what)")
            }
            if let length = r.headers.first(name: "Content-Length").flatMap({ Int($0) }), have + length > d.size {
                throw DistributionError(.refused, "\(what): the registry sends \(have + length) bytes, but the manifest says the layer has \(d.size); nothing was installed")
            }
            do {
                for try await buffer in r.body {
                    let n = buffer.readableBytes
                    guard have + n <= d.size else {
                        throw DistributionError(.refused, "\(what): more bytes than the \(d.size) the manifest says; nothing was installed")
                    }
                    try buffer.withUnsafeReadableBytes { raw in
                        try Self.pwriteAll(partial.fd, raw, at: have, path: partial.path)
                        hasher.update(raw)
                    }
                    have += n
                    received += n
                    progress?(have)
                    if !paused && have * 2 >= d.size { paused = true; step?("downloading") }
                }
                if have < d.size { throw HTTPClientError.remoteConnectionClosed }
            } catch let e where !Self.isLocal(e) && !(e is FileWriteError) {
                failures += 1
                guard failures < retry.attempts else {
                    throw DistributionError(.registry, "GET \(what): \(Self.describe(e)) at byte \(have) of \(d.size) (after \(failures) tries); the \(have) bytes received are kept and the next pull resumes there")
                }
                let wait = retry.delay(after: failures, retryAfter: nil)
                notice?("GET \(what): \(Self.describe(e)) at byte \(have) of \(d.size); resuming in \(Self.seconds(wait))")
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                if resumedAt == nil && have > 0 { resumedAt = have }
                continue
            }
        }
        let got = "sha256:" + hasher.finalizeHex()
        guard got == d.digest else {
            throw DistributionError(.refused, "\(what): the content hashes to \(got), not the \(d.digest) the manifest names (damaged or tampered with in the registry); nothing was installed")
        }
        return DownloadResult(bytesReceived: received, resumedAt: resumedAt)
    }

    /// Hashes the first `length` bytes already in a partial download; returns the bytes hashed.
    private func rehash(_ partial: PartialDownload, upTo length: Int, into hasher: inout SHA256Hasher) throws -> Int {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 64)
        defer { chunk.deallocate() }
        var done = 0
        while done < length {
            let n = pread(partial.fd, chunk.baseAddress, min(chunk.count, length - done), off_t(done))
            if n < 0 { if errno == EINTR { continue }; throw LocalFileError(description: "\(partial.path): read failed: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            done += n
        }
        return done
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                var why = String(cString: strerror(errno))
                if errno == EFBIG { why += " (the file size limit, `ulimit -f`, was reached)" }
                if errno == ENOSPC { why += " (the disk is full)" }
                throw FileWriteError(path: path, reason: "write failed: \(why)", code: errno)
            }
            done += n
        }
    }

    // MARK: manifests

    /// GETs the manifest `reference` names and checks its digest: against the digest asked for,
    /// and against the registry's Docker-Content-Digest.
    func getManifest() async throws -> (bytes: [UInt8], contentType: String?, digest: String) {
        let what = "manifest \(reference)"
        let r = try await send(RegistryRequest(method: .GET, url: url("manifests/\(reference.manifestReference)"),
                                               headers: ["Accept": MediaType.manifestAccept], what: "GET \(what)"),
                               scopes: [Self.scope(reference.repository, "pull")])
        if r.status.code == 404 {
            let text = await Self.drain(r)
            throw DistributionError(.notFound, "\(reference): no such \(reference.digest == nil ? "tag" : "manifest") (\(Self.statusLine(404, text)))")
        }
        try await expect(r, [200], "GET \(what)")
        if let length = r.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > ModelArtifact.maxManifestBytes {
            throw DistributionError(.refused, "\(what): \(length) bytes, more than the \(ModelArtifact.maxManifestBytes) a manifest may have")
        }
        let buffer: NIOCore.ByteBuffer
        do { buffer = try await r.body.collect(upTo: ModelArtifact.maxManifestBytes) } catch is NIOTooManyBytesError {
            throw DistributionError(.refused, "\(what): more than the \(ModelArtifact.maxManifestBytes) bytes a manifest may have")
        }
        let bytes = Array(buffer: buffer)
        let digest = "sha256:" + bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) }
        if let asked = reference.digest, asked != digest {
            throw DistributionError(.refused, "\(what): the manifest received hashes to \(digest), not the digest asked for; nothing was installed")
        }
        if let echoed = r.headers.first(name: "Docker-Content-Digest"), OCIReference.isSHA256Digest(echoed), echoed != digest {
            throw DistributionError(.refused, "\(what): the registry names it \(echoed) but its bytes hash to \(digest) (damaged or tampered with); nothing was installed")
        }
        return (bytes, r.headers.first(name: "Content-Type"), digest)
    }

    /// GETs a small blob (a config) whole, checking its size and digest.
    func getSmallBlob(_ d: Descriptor, limit: Int) async throws -> [UInt8] {
        let what = "config blob \(String(d.digest.prefix(19))) of \(reference.repository)"
        guard d.size <= limit else { throw DistributionError(.refused, "\(what): \(d.size) bytes, more than the \(limit) a config may have") }
        let r = try await send(RegistryRequest(method: .GET, url: url("blobs/\(d.digest)"), what: "GET \(what)"),
                               scopes: [Self.scope(reference.repository, "pull")])
        try await expect(r, [200], "GET \(what)")
        let buffer: NIOCore.ByteBuffer
        do { buffer = try await r.body.collect(upTo: d.size) } catch is NIOTooManyBytesError {
            throw DistributionError(.refused, "\(what): more bytes than the \(d.size) the manifest says")
        }
        let bytes = Array(buffer: buffer)
        let digest = "sha256:" + bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) }
        guard bytes.count == d.size, digest == d.digest else {
            throw DistributionError(.refused, "\(what): \(bytes.count) bytes hashing to \(digest), not the \(d.size) bytes and \(d.digest) the manifest names")
        }
        return bytes
    }

    /// PUTs a manifest under `tag`; returns the registry's digest for it (checked against ours).
    func putManifest(_ bytes: [UInt8], tag: String) async throws -> String {
        let digest = "sha256:" + bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) }
        let r = try await send(RegistryRequest(method: .PUT, url: url("manifests/\(tag)"), headers: ["Content-Type": MediaType.ociManifest],
                                               body: .bytes(bytes), what: "PUT manifest \(reference.repositoryPath):\(tag)"),
                               scopes: [Self.scope(reference.repository, "pull,push")])
        try await expect(r, [200, 201], "PUT manifest \(reference.repositoryPath):\(tag)")
        _ = await Self.drain(r)
        if let echoed = r.headers.first(name: "Docker-Content-Digest"), echoed != digest {
            throw DistributionError(.registry, "PUT manifest: the registry stored it as \(echoed), not \(digest)")
        }
        return digest
    }
}
