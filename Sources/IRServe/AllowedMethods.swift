import HTTPTypes
import Hummingbird

/// 405 with `Allow` for a path that exists under another method (the router alone would say 404,
/// which tells a client the path is wrong when only the method is).
struct AllowedMethods<Context: RequestContext>: RouterMiddleware {
    /// Path patterns (`*` one segment) and the methods each takes; the API's and the page's routes.
    static var table: [(pattern: [String], methods: [HTTPRequest.Method])] {
        [(["api", "info"], [.get]), (["api", "models"], [.get]), (["api", "jobs"], [.get, .post]),
         (["api", "jobs", "*"], [.get]), (["api", "jobs", "*", "events"], [.get]), (["api", "jobs", "*", "input"], [.get]),
         (["api", "jobs", "*", "result"], [.get]), (["api", "jobs", "*", "cancel"], [.post]),
         ([], [.get]), (["app.js"], [.get]), (["app.css"], [.get])]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let segments = request.uri.path.split(separator: "/").map(String.init)
        guard let entry = Self.table.first(where: { Self.matches($0.pattern, segments) }), !entry.methods.contains(request.method) else {
            return try await next(request, context)
        }
        let allow = entry.methods.map(\.rawValue).joined(separator: ", ")
        return ErrorBody.response(.methodNotAllowed, "\(request.method.rawValue) is not taken here (Allow: \(allow))", headers: [.allow: allow])
    }

    static func matches(_ pattern: [String], _ segments: [String]) -> Bool {
        pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
    }
}
