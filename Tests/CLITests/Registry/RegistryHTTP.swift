import AsyncHTTPClient
import Foundation
import IRTensor
import NIOCore
import NIOHTTP1

/// Direct registry API calls from the tests (distribution-spec, plain HTTP on loopback): to look
/// at what irzoo pushed, and to put there what irzoo must refuse (a container image).
enum RegistryHTTP {
    static let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

    static func sha256(_ bytes: [UInt8]) -> String { "sha256:" + bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) } }

    static func send(_ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil,
                     authorization: String? = nil) throws -> (status: UInt, headers: HTTPHeaders, body: [UInt8]) {
        final class Box: @unchecked Sendable { var result: Result<(UInt, HTTPHeaders, [UInt8]), Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = method
                request.headers = headers
                if let authorization { request.headers.add(name: "Authorization", value: authorization) }
                if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
                let r = try await client.execute(request, timeout: .seconds(30))
                let b = try await r.body.collect(upTo: 1 << 28)
                box.result = .success((r.status.code, r.headers, Array(buffer: b)))
            } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        let (s, h, b) = try box.result!.get()
        return (s, h, b)
    }

    /// Uploads a blob monolithically (POST, then PUT ?digest=); returns its digest.
    @discardableResult
    static func uploadBlob(_ registry: String, _ repo: String, _ bytes: [UInt8], authorization: String? = nil) throws -> String {
        let digest = sha256(bytes)
        let post = try send(.POST, "http://\(registry)/v2/\(repo)/blobs/uploads/", headers: ["Content-Length": "0"], authorization: authorization)
        guard post.status == 202, let location = post.headers.first(name: "Location") else { throw NSError(domain: "RegistryHTTP", code: Int(post.status)) }
        let absolute = location.hasPrefix("http") ? location : "http://\(registry)\(location)"
        let put = try send(.PUT, absolute + (absolute.contains("?") ? "&" : "?") + "digest=\(digest)",
                           headers: ["Content-Type": "application/octet-stream"], body: bytes, authorization: authorization)
        guard put.status == 201 else { throw NSError(domain: "RegistryHTTP", code: Int(put.status)) }
        return digest
    }

    static func putManifest(_ registry: String, _ repo: String, _ tag: String, _ bytes: [UInt8], mediaType: String) throws -> UInt {
        try send(.PUT, "http://\(registry)/v2/\(repo)/manifests/\(tag)", headers: ["Content-Type": mediaType], body: bytes).status
    }

    static func manifest(_ registry: String, _ repo: String, _ reference: String, authorization: String? = nil) throws -> (status: UInt, json: JSON?, digest: String?) {
        let r = try send(.GET, "http://\(registry)/v2/\(repo)/manifests/\(reference)",
                         headers: ["Accept": "application/vnd.oci.image.manifest.v1+json"], authorization: authorization)
        return (r.status, try? JSON.parse(r.body), r.headers.first(name: "Docker-Content-Digest"))
    }
}
