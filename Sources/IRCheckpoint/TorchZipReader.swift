import Dispatch
import IRTensor

/// torch.save zip archives (PyTorch ≥ 1.6) and TorchScript archives (torch.jit.save).
///
/// Layout: every member under one root folder, named by the first entry; `data.pkl` is the
/// pickled object, `data/<key>` the raw storages (stored, 64-byte aligned, so tensors are
/// zero-copy views of the mapping), `byteorder` says "little" or "big" (absent: little).
/// A TorchScript archive (it has `constants.pkl` or `code/`) pickles a module-object tree
/// instead of a dict; see `TorchScriptModules`.
public enum TorchZipReader {
    public static func read(file: ByteBuffer, path: String, options: ReadOptions) throws -> LoadedCheckpoint {
        try read(file: file, path: path, options: options, limits: PickleLimits())
    }

    public static func read(file: ByteBuffer, path: String, options: ReadOptions, limits: PickleLimits) throws -> LoadedCheckpoint {
        let zip = try ZipArchive(buffer: file, path: path)
        guard let first = zip.entries.first else {
            throw CheckpointError(file: path, reason: "empty zip archive: not a torch checkpoint")
        }
        guard let slash = first.name.firstIndex(of: "/"), slash != first.name.startIndex else {
            throw CheckpointError(file: path, entry: PickleRender.printable(first.name),
                                  reason: "not a torch archive: entries are not under one root folder")
        }
        let root = String(first.name[..<slash])
        func member(_ n: String) -> String { "\(root)/\(n)" }

        if zip.entry(named: member("model.json")) != nil {
            throw CheckpointError(file: path, entry: member("model.json"),
                                  reason: "TorchScript archive in the pre-1.4 format (model.json): not supported; re-save it with a current torch.jit.save or save a state_dict")
        }
        let isTorchScript = zip.entry(named: member("constants.pkl")) != nil
            || zip.entries.contains { $0.name.hasPrefix(member("code/")) }
        let pickleName = member("data.pkl")
        guard let pickleEntry = zip.entry(named: pickleName) else {
            throw CheckpointError(file: path, entry: pickleName, reason: "missing: not a torch.save or TorchScript archive")
        }

        var metadata: [String: String] = ["archive_root": PickleRender.printable(root)]
        let bigEndian = try byteOrder(zip, member("byteorder"), path: path)
        metadata["byteorder"] = bigEndian ? "big" : "little"
        if let v = try smallText(zip, member("version")) { metadata["archive_version"] = v }

        // Run the pickle; storages are checked against their records as they are named.
        let pickle = try zip.data(of: pickleEntry)
        let heap = PickleHeap()
        let machine = PickleMachine(heap: heap, limits: limits, permissive: options.permissive, torchScript: isTorchScript)
        let resolver = ZipStorageResolver(zip: zip, prefix: member("data/"))
        machine.persistentLoad = { pid, heap in try resolver.load(pid, heap) }
        let value = try TorchAssembly.inEntry(file: path, entry: pickleName) { try machine.run(pickle).value }

        var notes: [String] = []
        let selection: WeightSelection
        if isTorchScript {
            let classes = try TorchScriptModules.classInfo(zip, codePrefix: member("code/"))
            selection = try TorchAssembly.inEntry(file: path, entry: pickleName) {
                try TorchScriptModules.select(root: value, heap: heap, classes: classes, select: options.select, limits: limits)
            }
            let constants = zip.entries.filter { $0.name.hasPrefix(member("constants/")) }.count
            notes.append("TorchScript archive: weights read from the module tree in data.pkl; constants.pkl (\(constants) trace constant\(constants == 1 ? "" : "s")) skipped")
        } else {
            selection = try TorchAssembly.inEntry(file: path, entry: pickleName) {
                try Wrappers.select(root: value, heap: heap, select: options.select, limits: limits)
            }
        }
        if bigEndian { notes.append("big-endian archive: tensors converted to little-endian") }

        // Verify the CRC of every storage the weights use, in parallel, then slice them.
        let needed = Set(selection.tensors.map { $0.tensor.storage.key })
        let deferred = try resolver.verify(keys: needed, deferLarge: options.deferLargeCRC)
        let materializer = TorchTensorMaterializer(bigEndian: bigEndian) { storage in try resolver.bytes(storage) }
        let records = try TorchAssembly.records(selection, materializer, file: path, entry: pickleName)
        if records.isEmpty { notes.append("no tensors found") }

        var loaded = LoadedCheckpoint(format: isTorchScript ? .torchscript : .torchZip, wrapper: selection.wrapper,
                                      tensors: records,
                                      ignored: selection.ignored + TorchAssembly.placeholderLines(machine, entry: pickleName),
                                      notes: notes, metadata: metadata)
        loaded.deferred = deferred
        return loaded
    }

    private static func byteOrder(_ zip: ZipArchive, _ name: String, path: String) throws -> Bool {
        guard zip.entry(named: name) != nil else { return false }  // old archives: little-endian
        guard let text = try smallText(zip, name) else {
            throw CheckpointError(file: path, entry: name, reason: "unreadable byte order")
        }
        switch text {
        case "little": return false
        case "big": return true
        default: throw CheckpointError(file: path, entry: name, reason: "unknown byte order '\(PickleRender.printable(text))'")
        }
    }

    /// A short text member, trimmed; nil when absent, too long or not UTF-8.
    static func smallText(_ zip: ZipArchive, _ name: String) throws -> String? {
        guard let e = zip.entry(named: name), e.uncompressedSize <= 256 else { return nil }
        let v = try zip.data(of: e)
        guard let s = String(validating: v.bytes, as: UTF8.self) else { return nil }
        return s.trimmingASCIISpaces()
    }
}

/// Resolves `('storage', type, key, location, numel)` ids to `data/<key>` records: each key once,
/// its declared size checked against the record (the storage-size lie of CVE-2026-24747).
final class ZipStorageResolver {
    let zip: ZipArchive
    let prefix: String
    private var byKey: [String: (ref: TorchStorageRef, value: PickleValue)] = [:]
    private var verified = Set<String>()
    private var inflated: [String: ByteView] = [:]

    init(zip: ZipArchive, prefix: String) {
        self.zip = zip
        self.prefix = prefix
    }

    func load(_ pid: PickleValue, _ heap: PickleHeap) throws -> PickleValue {
        let id = try TorchPersistentID.parse(pid, heap: heap, legacy: false)
        if let known = byKey[id.key] {
            guard known.ref.type == id.type, known.ref.numel == id.numel else {
                throw PickleError("storage '\(id.key)' is referenced as both \(known.ref.numel) \(known.ref.type.name) and \(id.numel) \(id.type.name)")
            }
            return known.value
        }
        let name = prefix + id.key
        guard let entry = zip.entry(named: name) else {
            throw PickleError("storage '\(id.key)' has no record in the archive", entry: name)
        }
        let ref = try TorchStorageRef(key: id.key, type: id.type, numel: id.numel)
        guard ref.byteCount == entry.uncompressedSize else {
            throw PickleError("storage declares \(id.numel) \(id.type.name) elements (\(ref.byteCount) bytes) but its record holds \(entry.uncompressedSize) bytes (storage-size mismatch, CVE-2026-24747)", entry: name)
        }
        let value = heap.append(.storage(ref))
        byKey[id.key] = (ref, value)
        return value
    }

    /// Checks the CRC-32 of the named storages, several at a time. With `deferLarge`, the large
    /// stored ones are returned unchecked, as checks for the caller to run (`DeferredChecks`).
    func verify(keys: Set<String>, deferLarge: Bool = false) throws -> DeferredChecks {
        let entries = keys.sorted().compactMap { zip.entry(named: prefix + $0) }.filter { !verified.contains($0.name) }
        guard !entries.isEmpty else { return .none }
        // Small stored members are checked several at a time; large ones one after the other,
        // each split across cores block by block, with checked pages leaving the resident set,
        // so peak RSS stays near one block. Deflated members are checked when inflated.
        let small = entries.filter { $0.isStored && $0.compressedSize < ZipCRC.block / 8 }
        let large = entries.filter { $0.isStored && $0.compressedSize >= ZipCRC.block / 8 }
        func ok(_ e: ZipEntry) -> Bool {
            let view = zip.buffer.whole.slice(offset: e.dataOffset, count: e.compressedSize)!
            return ZipCRC.checksum(view, releasingPages: true) == e.crc32
        }
        let failures = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(small.count, 1))
        failures.initialize(repeating: 0)
        defer { failures.deallocate() }
        DispatchQueue.concurrentPerform(iterations: small.count) { i in
            if !ok(small[i]) { failures[i] = 1 }
        }
        if let bad = failures.prefix(small.count).firstIndex(of: 1) {
            _ = try zip.data(of: small[bad])  // throws the CRC error naming the entry
        }
        for e in entries where e.isStored { verified.insert(e.name) }
        if deferLarge {
            let zip = self.zip
            return DeferredChecks(checks: large.map { e in { if !ok(e) { _ = try zip.data(of: e) } } })
        }
        for e in large where !ok(e) {
            _ = try zip.data(of: e)
        }
        return .none
    }

    /// The bytes of a storage (checked by `verify`, or here when it was not).
    func bytes(_ storage: TorchStorageRef) throws -> ByteView {
        let name = prefix + storage.key
        let entry = zip.entry(named: name)!  // `load` found it
        if entry.isStored { return try zip.data(of: entry, verifyCRC: !verified.contains(name)) }
        if let cached = inflated[name] { return cached }
        let data = try zip.data(of: entry)
        inflated[name] = data
        return data
    }
}
