import IRTensor

/// Pre-1.6 torch.save files (`_use_new_zipfile_serialization=False`): five pickles back to back
/// (magic number, protocol 1001, sys_info, the object, the sorted storage keys), then each
/// storage in key order as an 8-byte little-endian element count followed by its raw bytes.
/// Storages are little-endian whatever the writer's host, so tensors are zero-copy views.
public enum TorchLegacyReader {
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c, LE
    static let protocolVersion = 1001

    public static func read(file: ByteBuffer, path: String, options: ReadOptions) throws -> LoadedCheckpoint {
        try read(file: file, path: path, options: options, limits: PickleLimits())
    }

    public static func read(file: ByteBuffer, path: String, options: ReadOptions, limits: PickleLimits) throws -> LoadedCheckpoint {
        let bytes = file.whole
        let heap = PickleHeap()
        // Offsets in errors are file offsets: the whole file is the pickle stream.
        func fail(_ reason: String, _ offset: Int? = nil) -> CheckpointError {
            CheckpointError(file: path, entry: nil, reason: reason, offset: offset)
        }
        func runPickle(_ m: PickleMachine, at pos: Int, _ what: String) throws -> (PickleValue, Int) {
            do { return try m.run(bytes, from: pos) } catch let e as PickleError {
                let inner = e.checkpointError(file: path, entry: what)
                throw inner
            }
        }
        let plain = PickleMachine(heap: heap, limits: limits)

        // 1. Magic number.
        let (magicValue, p1) = try runPickle(plain, at: 0, "magic number pickle")
        guard case .bigInt(let m) = magicValue, m == magic else {
            throw fail("not a torch.save file: the first pickle is not torch's legacy magic number (a plain pickle?)", 0)
        }
        // 2. Protocol version.
        let (proto, p2) = try runPickle(plain, at: p1, "protocol pickle")
        guard proto.int == protocolVersion else {
            throw fail("unsupported legacy protocol version \(PickleRender.typeName(proto, heap)) \(proto.int.map(String.init) ?? "")", p1)
        }
        // 3. sys_info: only checked to be a dict; storages are little-endian regardless.
        let (sysInfo, p3) = try runPickle(plain, at: p2, "sys_info pickle")
        guard heap.dict(sysInfo) != nil else { throw fail("sys_info is a \(PickleRender.typeName(sysInfo, heap)), not a dict", p2) }

        // 4. The object, whose persistent ids name storages (and legacy views of them).
        let machine = PickleMachine(heap: heap, limits: limits, permissive: options.permissive)
        let resolver = LegacyStorageResolver()
        machine.persistentLoad = { pid, heap in try resolver.load(pid, heap) }
        let (value, p4) = try runPickle(machine, at: p3, "object pickle")

        // 5. The storage keys, in the order their bytes follow.
        let (keysValue, p5) = try runPickle(plain, at: p4, "storage keys pickle")
        guard let keyItems = heap.sequence(keysValue) else {
            throw fail("storage key list is a \(PickleRender.typeName(keysValue, heap))", p4)
        }
        var keys: [String] = []
        for k in keyItems {
            guard let s = k.string else { throw fail("storage key list holds a \(PickleRender.typeName(k, heap))", p4) }
            keys.append(s)
        }

        // 6. Raw storages: count (elements) then bytes, checked against the declared sizes.
        var pos = p5
        var records: [String: ByteView] = [:]
        for key in keys {
            guard let root = resolver.roots[key] else {
                throw fail("storage '\(PickleRender.printable(key))' is listed but never referenced, so its element size is unknown", p4)
            }
            guard records[key] == nil else { throw fail("storage '\(PickleRender.printable(key))' is listed twice", p4) }
            guard pos <= bytes.count - 8 else { throw fail("file truncated before storage '\(PickleRender.printable(key))'", pos) }
            let count = Int64(littleEndian: file.base.loadUnaligned(fromByteOffset: pos, as: Int64.self))
            guard count == Int64(root.numel) else {
                throw fail("storage '\(PickleRender.printable(key))' holds \(count) elements but the pickle declares \(root.numel) (storage-size mismatch)", pos)
            }
            pos += 8
            guard root.byteCount <= bytes.count - pos else {
                throw fail("file truncated inside storage '\(PickleRender.printable(key))' (\(root.byteCount) bytes declared, \(bytes.count - pos) left)", pos)
            }
            records[key] = bytes.slice(offset: pos, count: root.byteCount)!
            pos += root.byteCount
        }
        for key in resolver.roots.keys where records[key] == nil {
            throw fail("storage '\(PickleRender.printable(key))' is referenced but its bytes are not in the file", pos)
        }

        let selection = try TorchAssembly.inEntry(file: path, entry: "object pickle") {
            try Wrappers.select(root: value, heap: heap, select: options.select, limits: limits)
        }
        let materializer = TorchTensorMaterializer(bigEndian: false) { storage in
            let rootBytes = records[resolver.rootKey(of: storage)]!
            return rootBytes.slice(offset: storage.elementOffset * storage.type.elementSize, count: storage.byteCount)!
        }
        let tensors = try TorchAssembly.records(selection, materializer, file: path, entry: "object pickle")
        var notes: [String] = []
        if pos < bytes.count { notes.append("\(bytes.count - pos) bytes after the last storage ignored") }
        if tensors.isEmpty { notes.append("no tensors found") }
        return LoadedCheckpoint(format: .torchLegacy, wrapper: selection.wrapper, tensors: tensors,
                                ignored: selection.ignored + TorchAssembly.placeholderLines(machine, entry: "object pickle"),
                                notes: notes, metadata: [:])
    }
}

/// Storages named by a legacy object pickle: root storages by key, and views of them.
final class LegacyStorageResolver {
    private(set) var roots: [String: TorchStorageRef] = [:]
    private var viewRoots: [String: String] = [:]
    private var values: [String: PickleValue] = [:]

    func load(_ pid: PickleValue, _ heap: PickleHeap) throws -> PickleValue {
        let id = try TorchPersistentID.parse(pid, heap: heap, legacy: true)
        if let known = roots[id.key] {
            guard known.type == id.type, known.numel == id.numel else {
                throw PickleError("storage '\(id.key)' is referenced as both \(known.numel) \(known.type.name) and \(id.numel) \(id.type.name)")
            }
        } else {
            guard viewRoots[id.key] == nil else { throw PickleError("storage '\(id.key)' is both a view and a root") }
            roots[id.key] = try TorchStorageRef(key: id.key, type: id.type, numel: id.numel)
        }
        guard let view = id.view else {
            if let v = values[id.key] { return v }
            let v = heap.append(.storage(roots[id.key]!))
            values[id.key] = v
            return v
        }
        // A view: a window of its root storage, by element offset and size.
        if let v = values[view.key] {
            guard viewRoots[view.key] == id.key, let s = storageRef(v, heap),
                  s.elementOffset == view.offset, s.numel == view.size else {
                throw PickleError("storage view '\(view.key)' is declared twice differently")
            }
            return v
        }
        guard roots[view.key] == nil else { throw PickleError("storage '\(view.key)' is both a view and a root") }
        let ref = try TorchStorageRef(key: view.key, type: id.type, numel: view.size, elementOffset: view.offset)
        viewRoots[view.key] = id.key
        let v = heap.append(.storage(ref))
        values[view.key] = v
        return v
    }

    private func storageRef(_ v: PickleValue, _ heap: PickleHeap) -> TorchStorageRef? {
        if case .ref(let r) = v, case .storage(let s) = heap[r] { return s }
        return nil
    }

    func rootKey(of storage: TorchStorageRef) -> String { viewRoots[storage.key] ?? storage.key }
}
