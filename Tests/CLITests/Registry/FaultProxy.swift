import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import XCTest

/// An HTTP proxy in front of a real registry that injects what registries do on a bad day:
/// 429 and 5xx with or without Retry-After, dropped connections mid-body, refusal of
/// `artifactType`, and 307 redirects of blob downloads to another host ("blob storage", as S3
/// behind a registry). Everything else is forwarded as is (Location headers rewritten to the
/// proxy), and every request is logged for the assertions.
final class FaultProxy: @unchecked Sendable {
    struct Fault {
        enum Kind {
            case status(UInt, retryAfter: Int?)
            /// Forward, then send only this many bytes of the answer's body and close.
            case dropAfter(Int)
            /// 400 MANIFEST_INVALID for a manifest PUT whose body contains `artifactType`.
            case rejectArtifactType
            /// Forward only the first half of the request body, then hang up without an answer
            /// (a connection that broke mid-upload: the registry stored part of a chunk).
            case truncateRequest
        }
        var method: HTTPMethod?
        var pathContains: String
        var kind: Kind
        /// How many matching requests it hits (then it is spent).
        var times: Int
    }

    struct Logged {
        var method: HTTPMethod
        var uri: String
        var authorized: Bool
        var status: UInt
    }

    let upstream: String // "127.0.0.1:PORT" of the registry
    private var server: TestHTTPServer!
    private var blobHost: TestHTTPServer?
    private let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                  configuration: .init(redirectConfiguration: .disallow))
    private let lock = NSLock()
    private var faults: [Fault] = []
    private var _log: [Logged] = []
    private var _blobHostLog: [Logged] = []
    /// Credentials the blob host uses to fetch from the registry (the client's never reach it).
    private let upstreamAuthorization: String?

    var address: String { "127.0.0.1:\(server.port)" }
    var log: [Logged] { lock.withLock { _log } }
    var blobHostLog: [Logged] { lock.withLock { _blobHostLog } }

    init(upstream: String, upstreamAuthorization: String? = nil) throws {
        self.upstream = upstream
        self.upstreamAuthorization = upstreamAuthorization
        server = try TestHTTPServer { [unowned self] in await self.forward($0) }
    }

    deinit {
        server?.stop()
        blobHost?.stop()
        try? http.syncShutdown()
    }

    func inject(_ fault: Fault) { lock.withLock { faults.append(fault) } }

    /// From now on, blob GETs are answered 307 to a second host (127.0.0.2) that serves the bytes.
    func redirectBlobs() throws {
        blobHost = try TestHTTPServer(host: "127.0.0.2") { [unowned self] request in
            // /blobs/REPO.../sha256:HEX: fetched from the registry with the proxy's own credentials.
            let rest = request.path.dropFirst("/blobs/".count)
            var upstreamRequest = HTTPClientRequest(url: "http://\(self.upstream)/v2/\(rest)")
            if let a = self.upstreamAuthorization { upstreamRequest.headers.add(name: "Authorization", value: a) }
            let answer = await self.fetch(upstreamRequest)
            self.lock.withLock {
                self._blobHostLog.append(Logged(method: request.method, uri: request.uri,
                                                authorized: request.headers.contains(name: "Authorization"), status: answer.status.code))
            }
            return answer
        }
    }

    private func takeFault(_ request: TestHTTPServer.Request) -> Fault.Kind? {
        lock.withLock {
            for i in faults.indices where faults[i].times > 0 && (faults[i].method == nil || faults[i].method == request.method)
                && request.path.contains(faults[i].pathContains) {
                if case .rejectArtifactType = faults[i].kind, !String(decoding: request.body, as: UTF8.self).contains("\"artifactType\"") { continue }
                faults[i].times -= 1
                return faults[i].kind
            }
            return nil
        }
    }

    private func forward(_ request: TestHTTPServer.Request) async -> TestHTTPServer.Response {
        let fault = takeFault(request)
        var response: TestHTTPServer.Response
        switch fault {
        case .status(let code, let retryAfter)?:
            var headers: HTTPHeaders = ["Content-Type": "application/json"]
            if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
            response = TestHTTPServer.Response(status: HTTPResponseStatus(statusCode: Int(code)), headers: headers,
                                               body: Array(#"{"errors":[{"code":"TOOMANYREQUESTS","message":"injected by the test proxy"}]}"#.utf8))
        case .rejectArtifactType?:
            response = TestHTTPServer.Response(status: .badRequest, headers: ["Content-Type": "application/json"],
                                               body: Array(#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unknown field artifactType"}]}"#.utf8))
        default:
            if let blobHost, request.method == .GET, request.path.contains("/blobs/sha256:") {
                // /v2/REPO/blobs/DIGEST -> http://127.0.0.2:P/blobs/REPO/blobs/DIGEST?X-Amz-Signature=...
                let repoAndDigest = request.path.dropFirst("/v2/".count)
                response = TestHTTPServer.Response(status: .temporaryRedirect,
                                                   headers: ["Location": "\(blobHost.origin)/blobs/\(repoAndDigest)?X-Amz-Signature=test"])
                break
            }
            var upstreamRequest = HTTPClientRequest(url: "http://\(upstream)\(request.uri)")
            upstreamRequest.method = request.method
            upstreamRequest.headers = request.headers
            upstreamRequest.headers.remove(name: "Host")
            var body = request.body
            if case .truncateRequest? = fault { body = Array(body.prefix(body.count / 2)) }
            upstreamRequest.headers.remove(name: "Content-Length")
            if !body.isEmpty || request.method == .PUT || request.method == .PATCH || request.method == .POST {
                upstreamRequest.body = .bytes(ByteBuffer(bytes: body))
            }
            response = await fetch(upstreamRequest)
            if case .dropAfter(let n)? = fault { response.dropAfter = n }
            if case .truncateRequest? = fault { response.hangUp = true }
        }
        lock.withLock {
            _log.append(Logged(method: request.method, uri: request.uri, authorized: request.headers.contains(name: "Authorization"),
                               status: response.status.code))
        }
        return response
    }

    private func fetch(_ request: HTTPClientRequest) async -> TestHTTPServer.Response {
        do {
            let r = try await http.execute(request, timeout: .seconds(60))
            let body = try await r.body.collect(upTo: 1 << 30)
            var headers = r.headers
            for name in ["Location", "WWW-Authenticate"] {
                if let v = headers.first(name: name) {
                    headers.replaceOrAdd(name: name, value: v.replacingOccurrences(of: "http://\(upstream)", with: "http://\(address)"))
                }
            }
            return TestHTTPServer.Response(status: r.status, headers: headers, body: Array(buffer: body))
        } catch {
            return .text(.badGateway, "proxy: \(error)")
        }
    }
}
