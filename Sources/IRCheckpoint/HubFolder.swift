#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRTensor

/// A diffusers/transformers component folder (what `save_pretrained` writes and the hubs hand
/// out), or a shard index given directly: which files hold the weights, and the `config.json`.
///
/// Weight files are named `BASE[.VARIANT].safetensors|bin` with BASE `diffusion_pytorch_model`,
/// `model` or `pytorch_model`; sharded sets have an index `BASE.EXT.index[.VARIANT].json`
/// naming each tensor's shard. Every file read must lie in the folder: a symlink may leave it
/// only for the Hugging Face cache's own `blobs/` (`REPO/snapshots/REV/... -> REPO/blobs/SHA`).
public struct HubWeights: Sendable {
    /// The folder holding the weights (the index's folder when an index was given).
    public let folder: String
    /// The folder's `config.json`, when there is one (never for an index given directly).
    public let configPath: String?
    /// The shard index, or nil for a single weights file.
    public let index: ShardIndex?
    public var indexPath: String? { index?.path }
    /// The weight files, in reading order (shards by name).
    public let weightFiles: [String]
    /// The variant chosen (`fp16`), or nil for the full-precision weights.
    public let variant: String?
    /// What was chosen among several weight sets, for the user (nil when there was no choice).
    public let choice: String?

    /// Every file the import reads, for the source digest: config, index, weights.
    public var files: [String] { [configPath, indexPath].compactMap { $0 } + weightFiles }

    static let bases = ["diffusion_pytorch_model", "model", "pytorch_model"]
    static let extensions = ["safetensors", "bin"]

    /// nil when `path` is a plain checkpoint file; the weights to read for a folder or an index.
    public static func locate(_ path: String, variant: String?) throws -> HubWeights? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }  // the readers report unreadable files
        let isFolder = (st.st_mode & S_IFMT) == S_IFDIR
        if !isFolder {
            guard path.hasSuffix(".json"), let set = WeightSet(indexName: fileName(path)) else {
                if variant != nil { throw CheckpointError(file: path, reason: "--variant applies to folders and shard indexes, not to a single weights file") }
                return nil
            }
            if let variant, set.variant != variant {
                throw CheckpointError(file: path, reason: "this index is for \(set.variant.map { "variant \($0)" } ?? "the full-precision weights"), not --variant \(variant)")
            }
            let folder = directory(of: path)
            return try HubWeights(folder: folder, config: nil, set: set, variant: set.variant, choice: nil)
        }
        var folder = path
        while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
        let names = try listing(folder)
        if names.contains("model_index.json") {
            throw CheckpointError(file: join(folder, "model_index.json"), reason: "this is a whole pipeline; import one of its component folders (unet/, vae/, text_encoder/, ...)")
        }
        var sets: [WeightSet] = []
        for name in names.sorted() {
            if let s = WeightSet(indexName: name) ?? WeightSet(singleName: name), HubWeights.bases.contains(s.base) { sets.append(s) }
        }
        let found = sets.map(\.name).joined(separator: ", ")
        guard !sets.isEmpty else {
            throw CheckpointError(file: folder, reason: "no weights file in this folder (expected diffusion_pytorch_model.safetensors, model.safetensors, pytorch_model.bin, their .VARIANT. forms, or a shard index)")
        }
        let wanted = sets.filter { $0.variant == variant }
        var candidates = wanted
        if variant == nil && wanted.isEmpty {
            // No full-precision weights: one variant alone is unambiguous, several are not.
            let variants = Set(sets.compactMap(\.variant))
            guard variants.count == 1 else {
                throw CheckpointError(file: folder, reason: "no full-precision weights and several variants (\(found)): choose one with --variant \(variants.sorted().joined(separator: "|"))")
            }
            candidates = sets
        }
        guard !candidates.isEmpty else {
            throw CheckpointError(file: folder, reason: "no \(variant!) weights in this folder (found: \(found))")
        }
        // safetensors before pickles, as diffusers and transformers load them; a shard index
        // before a single file of the same kind would be a folder written twice: refuse that.
        let preferredExtension = candidates.contains { $0.ext == "safetensors" } ? "safetensors" : "bin"
        let sameKind = candidates.filter { $0.ext == preferredExtension }
        guard sameKind.count == 1, let chosen = sameKind.first else {
            throw CheckpointError(file: folder, reason: "several weight files could be meant (\(sameKind.map(\.name).joined(separator: ", "))): pass the one to import")
        }
        let choice = sets.count > 1 ? "read \(chosen.name) (of \(found))" : nil
        let config = names.contains("config.json") ? join(folder, "config.json") : nil
        return try HubWeights(folder: folder, config: config, set: chosen, variant: chosen.variant, choice: choice)
    }

    private init(folder: String, config: String?, set: WeightSet, variant: String?, choice: String?) throws {
        self.folder = folder
        self.variant = variant
        self.choice = choice
        let guardian = try FolderContainment(folder)
        if let config { try guardian.check(config) }
        configPath = config
        if set.isIndex {
            let index = HubWeights.join(folder, set.name)
            try guardian.check(index)
            let parsed = try ShardIndex.read(index)
            self.index = parsed
            weightFiles = try parsed.shards.map { shard in
                let path = HubWeights.join(folder, shard)
                try guardian.check(path)
                return path
            }
        } else {
            let file = HubWeights.join(folder, set.name)
            try guardian.check(file)
            index = nil
            weightFiles = [file]
        }
    }

    /// Reads the weights: one file, or every shard checked against the index.
    public func read(options: ReadOptions) throws -> LoadedCheckpoint {
        guard let index else { return try CheckpointReader.read(path: weightFiles[0], options: options) }
        return try index.load(folder: folder, options: options)
    }

    static func fileName(_ path: String) -> String { path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path }
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
    static func join(_ folder: String, _ name: String) -> String { folder.hasSuffix("/") ? folder + name : folder + "/" + name }

    static func listing(_ folder: String) throws -> [String] {
        guard let dir = opendir(folder) else {
            throw CheckpointError(file: folder, reason: "cannot list the folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// One candidate set of weights in a folder: a single file or a shard index.
struct WeightSet {
    let name: String
    let base: String
    let ext: String
    let variant: String?
    let isIndex: Bool

    /// `BASE.EXT.index.json` or `BASE.EXT.index.VARIANT.json` (any BASE: an index given directly may have its own).
    init?(indexName name: String) {
        guard name.hasSuffix(".json") else { return nil }
        for ext in HubWeights.extensions {
            let marker = ".\(ext).index"
            guard let at = WeightSet.lastOccurrence(of: marker, in: name), at > name.startIndex else { continue }
            let base = String(name[..<at])
            let middle = name[name.index(at, offsetBy: marker.count)...].dropLast(".json".count)
            if middle.isEmpty { self.init(name: name, base: base, ext: ext, variant: nil, isIndex: true); return }
            guard middle.first == ".", let v = WeightSet.variantName(middle.dropFirst()) else { continue }
            self.init(name: name, base: base, ext: ext, variant: v, isIndex: true); return
        }
        return nil
    }

    /// `BASE.EXT` or `BASE.VARIANT.EXT`.
    init?(singleName name: String) {
        for base in HubWeights.bases where name.hasPrefix(base + ".") {
            for ext in HubWeights.extensions where name.hasSuffix("." + ext) {
                let middle = name.dropFirst(base.count).dropLast(ext.count + 1)
                if middle.isEmpty { self.init(name: name, base: base, ext: ext, variant: nil, isIndex: false); return }
                guard middle.first == ".", let v = WeightSet.variantName(middle.dropFirst()) else { continue }
                self.init(name: name, base: base, ext: ext, variant: v, isIndex: false); return
            }
        }
        return nil
    }

    private init(name: String, base: String, ext: String, variant: String?, isIndex: Bool) {
        self.name = name
        self.base = base
        self.ext = ext
        self.variant = variant
        self.isIndex = isIndex
    }

    static func lastOccurrence(of marker: String, in name: String) -> String.Index? {
        var i = name.endIndex
        while i > name.startIndex {
            i = name.index(before: i)
            if name[i...].hasPrefix(marker) { return i }
        }
        return nil
    }

    /// A variant is one plain word (fp16, bf16, ema); anything else is not a weights name.
    static func variantName(_ s: Substring) -> String? {
        guard !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return String(s)
    }
}

/// Keeps every file read inside the folder: no `../`, no absolute names, no symlink leaving it,
/// except the Hugging Face cache's (a snapshot's files link to the same repository's `blobs/`).
public struct FolderContainment {
    let folder: String
    let root: String
    let cacheBlobs: String?

    public init(_ folder: String) throws {
        guard let real = FolderContainment.realPath(folder) else {
            throw CheckpointError(file: folder, reason: "cannot resolve the folder: \(String(cString: strerror(errno)))")
        }
        self.folder = folder
        root = real
        // REPO/snapshots/REV[/component] -> REPO/blobs
        let parts = real.split(separator: "/").map(String.init)
        if let at = parts.lastIndex(of: "snapshots"), at + 1 < parts.count {
            cacheBlobs = "/" + (parts[..<at] + ["blobs"]).joined(separator: "/")
        } else {
            cacheBlobs = nil
        }
    }

    public func check(_ path: String) throws {
        guard let real = FolderContainment.realPath(path) else {
            throw CheckpointError(file: path, reason: "missing: \(String(cString: strerror(errno)))")
        }
        if real.hasPrefix(root + "/") { return }
        if let cacheBlobs, real.hasPrefix(cacheBlobs + "/") { return }
        throw CheckpointError(file: path, reason: "leads outside the folder \(folder) (to \(real)); refused")
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
