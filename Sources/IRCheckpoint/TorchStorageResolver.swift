import IRTensor

/// A storage reference as torch pickles it through BINPERSID:
/// `('storage', torch.<Type>Storage, key, location, numel)` in zip archives, with a sixth
/// field of view metadata `None | (view_key, offset, size)` in legacy files.
struct TorchPersistentID {
    let type: TorchStorageType
    let key: String
    let numel: Int
    let view: (key: String, offset: Int, size: Int)?

    static func parse(_ pid: PickleValue, heap: PickleHeap, legacy: Bool) throws -> TorchPersistentID {
        guard let items = heap.tuple(pid), let tag = items.first?.string else {
            throw PickleError("persistent id is a \(PickleRender.typeName(pid, heap)), not a ('storage', ...) tuple")
        }
        guard tag == "storage" else {
            throw PickleError("persistent id with tag '\(PickleRender.printable(tag))': only 'storage' references are allowed")
        }
        let arity = legacy ? 5...6 : 5...5
        guard arity.contains(items.count) else {
            throw PickleError("storage persistent id has \(items.count) fields, expected \(legacy ? 6 : 5)")
        }
        guard let g = heap.global(items[1]), case .storageType(let type) = g.kind else {
            throw PickleError("storage persistent id names \(PickleRender.typeName(items[1], heap)) as its storage type")
        }
        guard let key = items[2].string, isPlainKey(key) else {
            throw PickleError("storage key \(PickleRender.typeName(items[2], heap)) '\(PickleRender.printable(items[2].string ?? ""))' is not a plain record name")
        }
        guard items[3].string != nil else { throw PickleError("storage '\(key)' has no location string") }
        guard let numel = items[4].int, numel >= 0 else { throw PickleError("storage '\(key)' has no valid element count") }
        var view: (String, Int, Int)?
        if items.count == 6 {
            switch items[5] {
            case .none: break
            default:
                guard let v = heap.tuple(items[5]), v.count == 3, let vk = v[0].string, isPlainKey(vk),
                      let off = v[1].int, let size = v[2].int, off >= 0, size >= 0 else {
                    throw PickleError("storage '\(key)' has malformed view metadata")
                }
                guard off <= numel, size <= numel - off else {
                    throw PickleError("storage view '\(vk)' (offset \(off), \(size) elements) lies outside storage '\(key)' (\(numel) elements)")
                }
                view = (vk, off, size)
            }
        }
        return TorchPersistentID(type: type, key: key, numel: numel, view: view)
    }

    /// Record keys are short names ("0", "94416125433888"): never paths.
    static func isPlainKey(_ k: String) -> Bool {
        !k.isEmpty && k.utf8.count <= 256 && k != "." && k != ".." &&
            k.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F || $0 == 0x2D || $0 == 0x2E }
    }
}

extension PickleError {
    /// The one-line error for a pickle inside `entry` of `file`. A fault found in another
    /// entry (a storage record) names that entry and says where the pickle referenced it.
    func checkpointError(file: String, entry: String) -> CheckpointError {
        if let other = self.entry {
            let where_ = offset.map { " (referenced at byte \($0) of \(entry))" } ?? ""
            return CheckpointError(file: file, entry: other, reason: reason + where_)
        }
        return CheckpointError(file: file, entry: entry, reason: reason, offset: offset)
    }
}

enum TorchAssembly {
    /// Runs `body`, turning pickle-level failures into errors naming the file and entry.
    static func inEntry<T>(file: String, entry: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PickleError {
            throw e.checkpointError(file: file, entry: entry)
        }
    }

    /// Materialises every selected tensor.
    static func records(_ selection: WeightSelection, _ materializer: TorchTensorMaterializer,
                        file: String, entry: String) throws -> [TensorRecord] {
        try inEntry(file: file, entry: entry) {
            try selection.tensors.map { try materializer.record(name: $0.name, $0.tensor) }
        }
    }

    /// One ignored line per placeholder the permissive machine made.
    static func placeholderLines(_ machine: PickleMachine, entry: String) -> [String] {
        var seen = Set<String>()
        var lines: [String] = []
        for g in machine.placeholders where seen.insert(g.qualifiedName).inserted {
            lines.append("placeholder for unknown global \(PickleRender.printable(g.qualifiedName)) (first at byte \(g.offset) of \(entry); never imported or called)")
        }
        return lines
    }
}
