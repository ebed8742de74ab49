import IRFormat
import IRTensor

extension ModelStore {
    public struct VerifyOutcome: Sendable {
        public let name: String
        public let digest: String
        /// One line per problem, naming the tensor or the header; empty when intact.
        public let problems: [String]
        public var intact: Bool { problems.isEmpty }
    }

    /// Re-hashes the blobs of `names` (all models when empty; every component of a pipeline), each
    /// shared blob once, and records
    /// the result in their manifests. Never deletes or repairs anything. `progress(done, total)`
    /// reports bytes over all blobs, from any thread.
    public func verify(names: [String] = [], threads: Int? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> [VerifyOutcome] {
        let all = try manifests()
        var targets: [StoreManifest]
        if names.isEmpty {
            targets = all.models
        } else {
            targets = []
            for n in names {
                try Self.validateName(n)
                guard let m = all.models.first(where: { $0.name == n }) else {
                    if let p = all.problems.first(where: { $0.contains("/\(n).json") }) { throw StoreError(.unreadable, p) }
                    throw StoreError(.notFound, "no model named '\(n)' is installed (see `irzoo list`)")
                }
                if !targets.contains(where: { $0.name == n }) { targets.append(m) }
            }
        }
        var digests: [String] = []
        for m in targets { for d in m.digests where !digests.contains(d) { digests.append(d) } }
        let total = digests.reduce(0) { $0 + (blobSize($1) ?? 0) }
        var base = 0
        var problemsByDigest: [String: [String]] = [:]
        for digest in digests {
            let path = blobPath(digest)
            var problems: [String] = []
            if blobSize(digest) == nil {
                problems = ["blob \(path) is missing"]
            } else {
                do {
                    let file = try IRWFile.open(path: path)
                    if file.digest != digest {
                        problems = ["header: the file's digest is \(file.digest), not the \(digest) it is stored under"]
                    } else {
                        let offset = base
                        let report = file.verify(threads: threads) { done, _ in progress?(offset + done, total) }
                        problems = report.problems
                    }
                } catch let e as IRWError {
                    // The preamble and the JSON header are "the header" to a user: what describes the tensors.
                    let part = e.entry == "preamble" ? "header (preamble)" : (e.entry ?? "header")
                    problems = ["\(part): \(e.reason)"]
                }
            }
            base += blobSize(digest) ?? 0
            problemsByDigest[digest] = problems
        }
        try recordVerification(problemsByDigest, time: Timestamp.now())
        return targets.map { VerifyOutcome(name: $0.name, digest: $0.blob.digest, problems: $0.problems(byDigest: problemsByDigest)) }
    }
}
