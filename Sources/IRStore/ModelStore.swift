#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRFormat
import IRTensor

/// The installed-model store (docs/CLI.md, "The store"):
///
///     ROOT/store.json                 layout version
///     ROOT/lock                       flock: shared to read, exclusive to change anything
///     ROOT/blobs/sha256-DIGEST.irw    the weights, named by the .irw digest, read-only, shared by content
///     ROOT/manifests/NAME.json        one per installed model
///     ROOT/tmp/ID/                    work in progress, each held by its own flock (owner.lock)
///
/// Every change is made in `tmp/` and published by one rename under the exclusive lock. Before
/// a change, the `tmp/` entry records which blobs it may leave unreferenced (`intent.json`), so
/// the next command can undo a change that a crash (even `kill -9`) interrupted before its
/// manifest rename, and finish one interrupted after it.
public final class ModelStore {
    public static let layoutVersion = 1

    public let root: String
    /// Called at named steps of a change ("staged", "locked", "intent", "blob", "manifest",
    /// "removed"); the CLI uses it for fault-injection tests (IRZOO_TEST_PAUSE_AT).
    public var stepHook: ((String) -> Void)?

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// `$IRZOO_HOME`, else `$HOME/.local/share/irzoo`.
    public static func defaultRoot(environment: [String: String]) -> String? {
        if let home = environment["IRZOO_HOME"], !home.isEmpty { return home }
        if let home = environment["HOME"], !home.isEmpty { return "\(home)/.local/share/irzoo" }
        return nil
    }

    var blobsDir: String { "\(root)/blobs" }
    var manifestsDir: String { "\(root)/manifests" }
    var tmpDir: String { "\(root)/tmp" }
    var lockPath: String { "\(root)/lock" }
    var layoutPath: String { "\(root)/store.json" }

    public func blobPath(_ digest: String) -> String { "\(blobsDir)/sha256-\(digest).irw" }
    public func manifestPath(_ name: String) -> String { "\(manifestsDir)/\(name).json" }

    // MARK: names

    /// Model names: 1 to 128 of letters, digits, '.', '_', '+', '-', starting with a letter or digit.
    public static func validateName(_ name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 128 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2B || c == 0x2D
        } && name.utf8.first.map { c in (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) } == true
        guard ok else {
            throw StoreError(.invalidName, "'\(name)' is not a valid model name (use 1 to 128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit)")
        }
    }

    /// A model name derived from a source file name ("SymUNet_w48.pth" -> "SymUNet_w48").
    public static func suggestedName(forSourceFile path: String) -> String {
        var stem = DurableFile.fileName(of: path)
        if let dot = stem.lastIndex(of: "."), dot != stem.startIndex { stem = String(stem[..<dot]) }
        return suggestedName(stem: stem)
    }

    /// A folder's name is the model's whole ("stable-diffusion-xl-base-1.0" keeps its ".0").
    public static func suggestedName(forFolder path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return suggestedName(stem: DurableFile.fileName(of: String(trimmed)))
    }

    static func suggestedName(stem: String) -> String {
        var out = String(stem.unicodeScalars.map { u -> Character in
            let c = u.value
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2B || c == 0x2D
            return ok ? Character(u) : "-"
        })
        while let f = out.first, !(f.isLetter || f.isNumber) { out.removeFirst() }
        if out.isEmpty { out = "model" }
        return String(out.prefix(128))
    }

    static func isDigest(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// SHA-256 of the header without the fields that say when and from which file name it was
    /// converted: equal ids mean equal tensors (names, dtypes, shapes, digests) and metadata.
    public static func contentID(of file: IRWFile) -> String {
        guard case .object(var root) = file.header.json, case .object(var meta)? = root["metadata"] else {
            return file.digest
        }
        meta["created"] = nil
        if case .object(var source)? = meta["source"] {
            source["file_name"] = nil
            meta["source"] = .object(source)
        }
        root["metadata"] = .object(meta)
        let bytes = JSON.object(root).serializedBytes()
        return bytes.withUnsafeBytes { SHA256Hasher.hex(of: $0) }
    }

    // MARK: layout and locking

    public var exists: Bool { FileTree.isDirectory(root) && DurableFile.exists(layoutPath) }

    /// Creates the layout on first use and refuses a layout from a newer irzoo.
    func prepare() throws {
        if let bytes = FileTree.readFile(layoutPath) {
            guard let v = (try? JSON.parse(bytes))?["store_version"]?.intValue else {
                throw StoreError(.unreadable, "\(layoutPath): damaged store layout file")
            }
            guard v <= Self.layoutVersion else {
                throw StoreError(.unreadable, "\(root): store layout version \(v) was written by a newer irzoo; this one reads \(Self.layoutVersion)")
            }
            return
        }
        for d in [root, blobsDir, manifestsDir, tmpDir] { try FileTree.makeDirectories(d) }
        let layout = JSON.object([("store_version", .int(Self.layoutVersion)), ("created_by", .string(IRWLayout.converter))])
        do { try DurableFile.atomicWrite(layout.serializedBytes(pretty: true) + [0x0A], to: layoutPath) } catch {
            throw StoreError(.io, "\(error)")
        }
    }

    func lock(_ mode: FileLock.Mode) throws -> FileLock {
        try prepare()
        return try FileLock(path: lockPath, mode: mode)
    }

    func step(_ name: String) { stepHook?(name) }

    // MARK: reading

    /// Every installed model, by name, and one line for each manifest that cannot be read.
    public func manifests() throws -> (models: [StoreManifest], problems: [String]) {
        guard exists else { return ([], []) }
        let held = try lock(.shared)
        defer { withExtendedLifetime(held) {} }
        return loadManifests()
    }

    public func manifest(named name: String) throws -> StoreManifest {
        try Self.validateName(name)
        let all = try manifests()
        guard let m = all.models.first(where: { $0.name == name }) else {
            if let problem = all.problems.first(where: { $0.contains("/\(name).json") }) { throw StoreError(.unreadable, problem) }
            throw StoreError(.notFound, "no model named '\(name)' is installed (see `irzoo list`)")
        }
        return m
    }

    func loadManifests() -> (models: [StoreManifest], problems: [String]) {
        var models: [StoreManifest] = [], problems: [String] = []
        for file in FileTree.list(manifestsDir) where file.hasSuffix(".json") && !file.hasPrefix(".") {
            let path = "\(manifestsDir)/\(file)"
            do {
                guard let bytes = FileTree.readFile(path) else { throw StoreError(.unreadable, "\(path): cannot read") }
                let m = try StoreManifest(json: try JSON.parse(bytes), path: path)
                guard "\(m.name).json" == file else { throw StoreError(.unreadable, "\(path): damaged manifest: it names model '\(m.name)'") }
                models.append(m)
            } catch let e as StoreError {
                problems.append(e.message)
            } catch {
                problems.append("\(path): damaged manifest: \(error)")
            }
        }
        return (models, problems)
    }

    /// The file size of a blob, or nil when it is missing.
    public func blobSize(_ digest: String) -> Int? { DurableFile.size(of: blobPath(digest)) }

    // MARK: writing helpers

    func writeManifest(_ m: StoreManifest) throws {
        do {
            try DurableFile.atomicWrite(m.json.serializedBytes(pretty: true) + [0x0A], to: manifestPath(m.name), tempDirectory: tmpDir)
        } catch {
            throw StoreError(.io, "\(error)")
        }
    }

    /// A `tmp/` entry owned (flock) by this process until released.
    func makeWorkDirectory(prefix: String) throws -> Staging {
        let id = "\(prefix)-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let dir = "\(tmpDir)/\(id)"
        guard mkdir(dir, 0o755) == 0 else {
            throw StoreError(.io, "\(dir): cannot create: \(String(cString: strerror(errno)))")
        }
        let owner = try FileLock(path: "\(dir)/owner.lock", mode: .exclusive)
        return Staging(store: self, directory: dir, owner: owner)
    }

    /// Records, before a change, the blobs it may leave unreferenced if it is interrupted.
    func writeIntent(_ work: Staging, blobs: [String]) throws {
        let intent = JSON.object([("blobs", .array(blobs.map { .string($0) }))])
        do { try DurableFile.atomicWrite(intent.serializedBytes(), to: "\(work.directory)/intent.json") } catch {
            throw StoreError(.io, "\(error)")
        }
    }
}

/// A directory under `tmp/` that this process owns while it lives (its flock).
public final class Staging {
    unowned let store: ModelStore
    public let directory: String
    private let owner: FileLock
    private var discarded = false

    init(store: ModelStore, directory: String, owner: FileLock) {
        self.store = store
        self.directory = directory
        self.owner = owner
    }

    /// Where the importer writes the .irw to install.
    public var irwPath: String { "\(directory)/model.irw" }
    /// Where the weights came from: the store keeps it in the model's record, since a format 1.1
    /// .irw holds content only. Nil only for a 1.0 file, which carries its own.
    public var provenance: IRWProvenance?
    /// A pipeline's parts, in order, each written at `componentPath(role)` (`irwPath` then holds
    /// the pipeline's own description); `commit` installs them all or none.
    public private(set) var components: [(role: String, provenance: IRWProvenance?)] = []

    public func componentPath(_ role: String) -> String { "\(directory)/component-\(role).irw" }

    /// Adds the component written at `componentPath(role)`.
    public func addComponent(role: String, provenance: IRWProvenance?) throws {
        guard StoreManifest.isRole(role), !components.contains(where: { $0.role == role }) else {
            throw StoreError(.invalidName, "'\(role)' is not a component role, or is staged twice")
        }
        components.append((role, provenance))
    }

    /// Removes the directory; the store would sweep it anyway once this process is gone.
    public func discard() {
        guard !discarded else { return }
        discarded = true
        try? FileTree.removeTree(directory)
    }

    deinit { discard() }
}
