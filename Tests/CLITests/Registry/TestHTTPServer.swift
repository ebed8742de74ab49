import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server for the test suite (SwiftNIO's HTTP codec, bodies buffered): the
/// bearer-token endpoint, the fault-injecting proxy in front of the registry, and a second
/// "blob storage" host for redirects. `handle` answers each request.
final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
        var query: [(String, String)] {
            guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [] }
            return q.split(separator: "&").map { pair in
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                return (kv[0], kv.count > 1 ? kv[1] : "")
            }
        }
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers = HTTPHeaders()
        var body: [UInt8] = []
        /// Send the head and this many body bytes, then close the connection (a dropped transfer).
        var dropAfter: Int? = nil
        /// Close the connection without any answer.
        var hangUp = false

        init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], dropAfter: Int? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.dropAfter = dropAfter
        }

        static func text(_ status: HTTPResponseStatus, _ text: String) -> Response {
            Response(status: status, headers: ["Content-Type": "text/plain"], body: Array(text.utf8))
        }
    }

    let host: String
    private(set) var port = 0
    private var channel: Channel?
    let handle: @Sendable (Request) async -> Response

    init(host: String = "127.0.0.1", handle: @escaping @Sendable (Request) async -> Response) throws {
        self.host = host
        self.handle = handle
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [handle] channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(handle: handle))
                }
            }
        let ch = try bootstrap.bind(host: host, port: 0).wait()
        channel = ch
        port = ch.localAddress?.port ?? 0
    }

    var origin: String { "http://\(host):\(port)" }

    func stop() {
        try? channel?.close().wait()
        channel = nil
    }

    deinit { stop() }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let handle: @Sendable (Request) async -> Response
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(handle: @escaping @Sendable (Request) async -> Response) { self.handle = handle }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = []
            case .body(let b):
                body += Array(buffer: b)
            case .end:
                guard let head else { return }
                let request = Request(method: head.method, uri: head.uri, headers: head.headers, body: body)
                let channel = context.channel
                let keepAlive = head.isKeepAlive
                let version = head.version
                Task {
                    let response = await self.handle(request)
                    channel.eventLoop.execute {
                        if response.hangUp {
                            _ = channel.close()
                            return
                        }
                        var headers = response.headers
                        if request.method != .HEAD || headers["Content-Length"].isEmpty {
                            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                        }
                        headers.remove(name: "Transfer-Encoding")
                        if !keepAlive || response.dropAfter != nil { headers.replaceOrAdd(name: "Connection", value: "close") }
                        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: response.status, headers: headers)), promise: nil)
                        let count = min(response.dropAfter ?? response.body.count, response.body.count)
                        if count > 0 && request.method != .HEAD {
                            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body[0..<count]))), promise: nil)
                        }
                        if response.dropAfter != nil {
                            channel.flush()
                            _ = channel.close()
                            return
                        }
                        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in
                            if !keepAlive { _ = channel.close() }
                        }
                    }
                }
            }
        }
    }
}
