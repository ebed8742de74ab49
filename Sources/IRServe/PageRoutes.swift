import Hummingbird

/// The page: three static files compiled into the binary (SwiftPM `embedInCode`), so the server
/// needs no files beside it and serves exactly what was built.
enum PageRoutes {
    static func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in asset(PackageResources.index_html, "text/html; charset=utf-8") }
        router.get("app.js") { _, _ in asset(PackageResources.app_js, "text/javascript; charset=utf-8") }
        router.get("app.css") { _, _ in asset(PackageResources.app_css, "text/css; charset=utf-8") }
    }

    static func asset(_ bytes: [UInt8], _ type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
