#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHDF5
import IRTensor

/// What a dataset's element type means to irzoo.
enum HDF5ElementKind {
    /// Read with the little-endian memory type `code` (see irzoo_h5_le_type).
    case numeric(DType, code: Int32)
    /// h5py's bool: an 8-bit enum {FALSE, TRUE}, read as stored and normalised to 0/1.
    case bool
    /// Numbers irzoo cannot carry (u16, u32, u64, long double): an error when it holds weights.
    case unsupported(String)
    /// Not numbers at all (strings, compounds, references, ...): never weights.
    case notNumeric(String)
}

/// A dataset chosen as a tensor, described but not read yet (so a header can be written first).
struct HDF5PlannedTensor {
    let key: String
    let hdfPath: String
    let dtype: DType
    let shape: [Int]
    let byteCount: Int
    let kind: HDF5ElementKind
    let dataset: H5Handle
}

/// Everything about a file except the tensor bytes.
struct HDF5Plan {
    var tensors: [HDF5PlannedTensor] = []
    var wrapper: String?
    var ignored: [String] = []
    var notes: [String] = []
    var metadata: [String: String] = [:]
}

/// Walks one open file. Callers hold the libhdf5 lock (or are the isolated child process).
struct HDF5TreeReader {
    let path: String
    let file: H5Handle
    let fileSize: Int
    private var plan = HDF5Plan()
    private var keys = Set<String>()
    private var visited = Set<[UInt8]>()
    private var objectsSeen = 0
    private var plannedBytes = 0

    static let maxDepth = 64
    static let maxObjects = 1_000_000
    /// Compressed datasets may expand; deflate's limit is about 1032:1.
    static let expansionFactor = 1100
    static let expansionSlack = 16 << 20

    init(path: String, file: H5Handle, fileSize: Int) {
        self.path = path
        self.file = file
        self.fileSize = fileSize
    }

    func fail(_ entry: String?, _ reason: String, library: Bool = false) -> CheckpointError {
        var r = reason
        if library, let detail = HDF5Library.takeError() { r += " (libhdf5: \(detail))" }
        return CheckpointError(file: path, entry: entry, reason: r)
    }

    /// Reads the whole file in this process.
    mutating func readAll() throws -> LoadedCheckpoint {
        let plan = try makePlan()
        var tensors: [TensorRecord] = []
        tensors.reserveCapacity(plan.tensors.count)
        for p in plan.tensors {
            let buffer = try load(p)
            do {
                tensors.append(try TensorRecord(name: p.key, dtype: p.dtype, shape: p.shape, data: buffer.whole))
            } catch let e as TensorRecordError {
                throw fail(p.hdfPath, e.reason)
            }
        }
        return LoadedCheckpoint(format: .hdf5, wrapper: plan.wrapper, tensors: tensors, ignored: plan.ignored,
                                notes: plan.notes, metadata: plan.metadata)
    }

    /// Finds the tensors (names, dtypes, shapes, in order) without reading their data.
    mutating func makePlan() throws -> HDF5Plan {
        let root = try openGroup(file.id, ".", "/")
        readRootMetadata(root.id)
        if let keras = try kerasWeightsGroup(root.id) {
            try planKeras(root: root, weights: keras.group, groupPath: keras.path)
        } else {
            try walk(group: root, hdfPath: "", keyPrefix: [], depth: 0)
            guard !plan.tensors.isEmpty else {
                let n = plan.ignored.count
                let extra = n == 0 ? "" : " (\(n) non-weight object\(n == 1 ? "" : "s") left aside)"
                throw fail(nil, "holds no weights: no numeric datasets found\(extra)")
            }
        }
        return plan
    }

    // MARK: - Opening objects through hard links only

    func openGroup(_ loc: hid_t, _ name: String, _ hdfPath: String) throws -> H5Handle {
        let g = H5Gopen2(loc, name, hid_t(H5P_DEFAULT))
        guard g >= 0 else { throw fail(hdfPath, "cannot open group", library: true) }
        return H5Handle(g, H5Gclose)
    }

    /// Opens `relative` (slash-separated) under `base`, refusing soft and external links.
    /// Errors name the whole target; `listedIn` says which attribute promised it.
    func openHardPath(_ base: hid_t, _ basePath: String, _ relative: String, listedIn: String? = nil) throws -> H5Handle {
        let target = basePath + "/" + relative
        let context = listedIn.map { "listed in \($0), but " } ?? ""
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else { throw fail(target, "\(context)the path is empty") }
        var current: H5Handle? = nil
        var here = basePath
        for part in parts {
            let loc = current?.id ?? base
            let step = here + "/" + part
            let subject = step == target ? "it" : step
            guard part != "." && part != ".." else { throw fail(target, "\(context)path component '\(part)' is not allowed") }
            guard H5Lexists(loc, part, hid_t(H5P_DEFAULT)) > 0 else {
                _ = HDF5Library.takeError()
                throw fail(target, "\(context)\(subject) does not exist")
            }
            switch irzoo_h5_link_kind(loc, part) {
            case 0: break
            case 1: throw fail(target, "\(context)\(subject) is a soft link; irzoo follows hard links only")
            case 2: throw fail(target, "\(context)\(subject) is an external link to another file; refused")
            default: throw fail(target, "\(context)\(subject) is not a hard link", library: true)
            }
            let o = H5Oopen(loc, part, hid_t(H5P_DEFAULT))
            guard o >= 0 else { throw fail(target, "\(context)cannot open \(subject)", library: true) }
            current = H5Handle(o, H5Oclose)
            here = step
        }
        return current!
    }

    mutating func firstVisit(_ obj: hid_t, _ hdfPath: String) throws -> Bool {
        var id = [UInt8](repeating: 0, count: 16)
        guard irzoo_h5_object_identity(obj, &id) == 0 else { throw fail(hdfPath, "cannot identify object", library: true) }
        return visited.insert(id).inserted
    }

    // MARK: - Generic trees

    mutating func walk(group: H5Handle, hdfPath: String, keyPrefix: [String], depth: Int) throws {
        let shown = hdfPath.isEmpty ? "/" : hdfPath
        guard depth < HDF5TreeReader.maxDepth else { throw fail(shown, "groups nest deeper than \(HDF5TreeReader.maxDepth)") }
        guard try firstVisit(group.id, shown) else {
            plan.ignored.append("\(shown) (hard link to a group already read)")
            return
        }
        for name in try linkNames(group.id, hdfPath) {
            let childPath = hdfPath + "/" + name
            objectsSeen += 1
            guard objectsSeen <= HDF5TreeReader.maxObjects else { throw fail(childPath, "more than \(HDF5TreeReader.maxObjects) objects") }
            switch irzoo_h5_link_kind(group.id, name) {
            case 0: break
            case 1: plan.ignored.append("\(childPath) (soft link, not followed)"); continue
            case 2: plan.ignored.append("\(childPath) (external link to another file, not followed)"); continue
            default: plan.ignored.append("\(childPath) (user-defined link, not followed)"); _ = HDF5Library.takeError(); continue
            }
            let o = H5Oopen(group.id, name, hid_t(H5P_DEFAULT))
            guard o >= 0 else { throw fail(childPath, "cannot open", library: true) }
            let obj = H5Handle(o, H5Oclose)
            switch H5Iget_type(o) {
            case H5I_GROUP:
                try walk(group: obj, hdfPath: childPath, keyPrefix: keyPrefix + [name], depth: depth + 1)
            case H5I_DATASET:
                guard try firstVisit(o, childPath) else {
                    plan.ignored.append("\(childPath) (hard link to a dataset already read)")
                    continue
                }
                let key = (keyPrefix + [name]).joined(separator: ".")
                if let t = try planDataset(obj, hdfPath: childPath, key: key, required: false) {
                    try add(t)
                }
            default:
                plan.ignored.append("\(childPath) (named datatype, not data)")
            }
        }
    }

    func linkNames(_ group: hid_t, _ hdfPath: String) throws -> [String] {
        let shown = hdfPath.isEmpty ? "/" : hdfPath
        var info = H5G_info_t()
        guard H5Gget_info(group, &info) >= 0 else { throw fail(shown, "cannot list group", library: true) }
        guard info.nlinks <= UInt64(HDF5TreeReader.maxObjects) else {
            throw fail(shown, "group holds \(info.nlinks) links, more than \(HDF5TreeReader.maxObjects)")
        }
        var names: [String] = []
        for i in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, hid_t(H5P_DEFAULT))
            guard n >= 0, n < 1 << 20 else { throw fail(shown, "cannot read link name #\(i)", library: true) }
            var buf = [CChar](repeating: 0, count: n + 1)
            guard H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, n + 1, hid_t(H5P_DEFAULT)) >= 0 else {
                throw fail(shown, "cannot read link name #\(i)", library: true)
            }
            names.append(try decodeName(buf.prefix(n).map { UInt8(bitPattern: $0) }, shown))
        }
        return names
    }

    func decodeName(_ bytes: [UInt8], _ shown: String) throws -> String {
        if bytes.withUnsafeBytes({ UTF8Validation.firstInvalid($0) }) != nil {
            throw fail(shown, "holds a name that is not valid UTF-8")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func add(_ t: HDF5PlannedTensor) throws {
        guard keys.insert(t.key).inserted else {
            throw fail(t.hdfPath, "key '\(t.key)' is produced twice (names collide once '/' becomes '.')")
        }
        plan.tensors.append(t)
    }

    // MARK: - Datasets

    func classify(_ type: hid_t) -> HDF5ElementKind {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize)
            switch size {
            case 2 where esize == 8: return .numeric(.bf16, code: 3)
            case 2: return .numeric(.f16, code: 2)
            case 4: return .numeric(.f32, code: 0)
            case 8: return .numeric(.f64, code: 1)
            default: return .unsupported("\(size * 8)-bit floats")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return .numeric(.i8, code: 7)
            case (1, false): return .numeric(.u8, code: 8)
            case (2, true): return .numeric(.i16, code: 6)
            case (4, true): return .numeric(.i32, code: 5)
            case (8, true): return .numeric(.i64, code: 4)
            default: return .unsupported("\(signed ? "signed" : "unsigned") \(size * 8)-bit integers")
            }
        case H5T_ENUM:
            if size == 1, H5Tget_nmembers(type) == 2, enumMemberName(type, 0) == "FALSE", enumMemberName(type, 1) == "TRUE" {
                return .bool
            }
            return .notNumeric("an enum")
        case H5T_STRING: return .notNumeric("strings")
        case H5T_COMPOUND: return .notNumeric("a compound type")
        case H5T_REFERENCE: return .notNumeric("references")
        case H5T_VLEN: return .notNumeric("variable-length data")
        case H5T_ARRAY: return .notNumeric("an array type")
        case H5T_OPAQUE: return .notNumeric("opaque bytes")
        case H5T_BITFIELD: return .notNumeric("a bitfield")
        case H5T_TIME: return .notNumeric("a time type")
        default:
            _ = HDF5Library.takeError()
            return .notNumeric("an unknown type")
        }
    }

    func enumMemberName(_ type: hid_t, _ i: UInt32) -> String? {
        guard let p = H5Tget_member_name(type, i) else { _ = HDF5Library.takeError(); return nil }
        defer { H5free_memory(p) }
        return String(cString: p)
    }

    /// Describes a dataset as a tensor. Non-numeric data gives nil (and a line in `ignored`)
    /// unless `required`, when it is an error like any other problem.
    mutating func planDataset(_ d: H5Handle, hdfPath: String, key: String, required: Bool) throws -> HDF5PlannedTensor? {
        let t = H5Dget_type(d.id)
        guard t >= 0 else { throw fail(hdfPath, "cannot read the dataset's type", library: true) }
        let fileType = H5Handle(t, H5Tclose)
        let kind = classify(fileType.id)
        let dtype: DType
        switch kind {
        case .numeric(let d, _): dtype = d
        case .bool: dtype = .bool
        case .unsupported(let what):
            throw fail(hdfPath, "holds \(what), which irzoo does not support (supported: \(DType.allCases.map(\.rawValue).joined(separator: " ")))")
        case .notNumeric(let what):
            if required { throw fail(hdfPath, "holds \(what), not numbers") }
            plan.ignored.append("\(hdfPath) (\(what), not weights)")
            return nil
        }

        let s = H5Dget_space(d.id)
        guard s >= 0 else { throw fail(hdfPath, "cannot read the dataset's shape", library: true) }
        let space = H5Handle(s, H5Sclose)
        var shape: [Int] = []
        switch H5Sget_simple_extent_type(space.id) {
        case H5S_SCALAR: break
        case H5S_SIMPLE:
            let rank = H5Sget_simple_extent_ndims(space.id)
            guard rank >= 0 else { throw fail(hdfPath, "cannot read the dataset's rank", library: true) }
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            guard H5Sget_simple_extent_dims(space.id, &dims, nil) >= 0 else { throw fail(hdfPath, "cannot read the dataset's shape", library: true) }
            for dim in dims {
                guard dim <= UInt64(Int.max) else { throw fail(hdfPath, "dimension \(dim) is too large") }
                shape.append(Int(dim))
            }
        case H5S_NULL:
            if required { throw fail(hdfPath, "has no data (null dataspace)") }
            plan.ignored.append("\(hdfPath) (empty dataspace, no data)")
            return nil
        default:
            throw fail(hdfPath, "has an unknown dataspace", library: true)
        }
        guard let byteCount = ShapeMath.byteCount(shape, dtype) else { throw fail(hdfPath, "shape \(shape) overflows") }

        // Storage that lives outside this file is never read.
        let p = H5Dget_create_plist(d.id)
        guard p >= 0 else { throw fail(hdfPath, "cannot read the dataset's storage layout", library: true) }
        let dcpl = H5Handle(p, H5Pclose)
        if H5Pget_layout(dcpl.id) == H5D_VIRTUAL { throw fail(hdfPath, "is a virtual dataset (it maps other files); refused") }
        if H5Pget_external_count(dcpl.id) > 0 { throw fail(hdfPath, "keeps its data in external files; refused") }

        // Bound what a small file can make us allocate: the stored bytes times deflate's ratio
        // (plus slack for fill values) per dataset, and the same over the whole file.
        let stored = Int(clamping: H5Dget_storage_size(d.id))
        let (scaled, o1) = stored.multipliedReportingOverflow(by: HDF5TreeReader.expansionFactor)
        let allowance = o1 ? Int.max : scaled.addingReportingOverflow(HDF5TreeReader.expansionSlack).partialValue
        guard byteCount <= allowance else {
            throw fail(hdfPath, "declares \(byteCount) bytes but stores only \(stored); refusing to expand it")
        }
        let (total, o2) = plannedBytes.addingReportingOverflow(byteCount)
        let (fileScaled, o3) = fileSize.multipliedReportingOverflow(by: HDF5TreeReader.expansionFactor)
        guard !o2, o3 || total <= fileScaled + 256 << 20 else {
            throw fail(hdfPath, "datasets would expand to more than \(HDF5TreeReader.expansionFactor)x the file size")
        }
        plannedBytes = total
        return HDF5PlannedTensor(key: key, hdfPath: hdfPath, dtype: dtype, shape: shape, byteCount: byteCount, kind: kind, dataset: d)
    }

    /// Reads a planned dataset into an owned little-endian buffer.
    func load(_ p: HDF5PlannedTensor) throws -> ByteBuffer {
        let memType: H5Handle
        switch p.kind {
        case .numeric(_, let code):
            let m = irzoo_h5_le_type(code)
            guard m >= 0 else { throw fail(p.hdfPath, "cannot build the memory type", library: true) }
            memType = H5Handle(m, H5Tclose)
        default:
            // bool: one byte, no byte order; read as stored.
            let t = H5Dget_type(p.dataset.id)
            guard t >= 0 else { throw fail(p.hdfPath, "cannot read the dataset's type", library: true) }
            memType = H5Handle(t, H5Tclose)
        }
        let count = p.byteCount
        return try ByteBuffer.make(count: count) { dst in
            guard count > 0 else { return }
            guard irzoo_h5_read_dataset(p.dataset.id, memType.id, dst.baseAddress!) >= 0 else {
                throw fail(p.hdfPath, "cannot read the data", library: true)
            }
            if case .bool = p.kind {
                for i in 0..<count where dst[i] > 1 { dst[i] = 1 }
            }
        }
    }

    // MARK: - Attributes

    /// A string attribute as a list of strings (a scalar gives one), or nil when it is absent.
    func stringAttribute(_ obj: hid_t, _ name: String, _ hdfPath: String) throws -> [String]? {
        guard H5Aexists(obj, name) > 0 else { _ = HDF5Library.takeError(); return nil }
        let entry = "\(hdfPath.isEmpty ? "/" : hdfPath) attribute '\(name)'"
        let a = H5Aopen(obj, name, hid_t(H5P_DEFAULT))
        guard a >= 0 else { throw fail(entry, "cannot open", library: true) }
        let attr = H5Handle(a, H5Aclose)
        let t = H5Aget_type(attr.id)
        guard t >= 0 else { throw fail(entry, "cannot read its type", library: true) }
        let type = H5Handle(t, H5Tclose)
        let s = H5Aget_space(attr.id)
        guard s >= 0 else { throw fail(entry, "cannot read its shape", library: true) }
        let space = H5Handle(s, H5Sclose)
        let points = H5Sget_simple_extent_npoints(space.id)
        guard points >= 0, points <= 1 << 24 else { throw fail(entry, "has an invalid element count", library: true) }
        let count = Int(points)
        // Keras writes an empty name list as an empty float64 array (h5py's view of `[]`).
        if count == 0 { return [] }
        guard H5Tget_class(type.id) == H5T_STRING else { throw fail(entry, "is not a string attribute") }

        var raw: [[UInt8]] = []
        if H5Tis_variable_str(type.id) > 0 {
            let m = irzoo_h5_vlen_string_type()
            guard m >= 0 else { throw fail(entry, "cannot build the string type", library: true) }
            let memType = H5Handle(m, H5Tclose)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(attr.id, memType.id, &pointers) >= 0 else { throw fail(entry, "cannot read", library: true) }
            for p in pointers {
                raw.append(p.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? [])
            }
            _ = irzoo_h5_reclaim(memType.id, space.id, &pointers)
        } else {
            let width = H5Tget_size(type.id)
            guard width > 0 else { throw fail(entry, "has zero-width strings", library: true) }
            let (total, overflow) = width.multipliedReportingOverflow(by: count)
            guard !overflow, total <= 256 << 20 else { throw fail(entry, "is too large") }
            var buf = [UInt8](repeating: 0, count: total)
            guard H5Aread(attr.id, type.id, &buf) >= 0 else { throw fail(entry, "cannot read", library: true) }
            let spacePadded = H5Tget_strpad(type.id) == H5T_STR_SPACEPAD
            for i in 0..<count {
                var item = Array(buf[i * width..<(i + 1) * width])
                if let nul = item.firstIndex(of: 0) { item.removeSubrange(nul...) }
                if spacePadded { while item.last == 0x20 { item.removeLast() } }
                raw.append(item)
            }
        }
        return try raw.map { bytes in
            guard bytes.withUnsafeBytes({ UTF8Validation.firstInvalid($0) }) == nil else { throw fail(entry, "is not valid UTF-8") }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Keras splits long name lists over `name0`, `name1`, ... (HDF5's 64 KiB header limit).
    func splitStringAttribute(_ obj: hid_t, _ name: String, _ hdfPath: String) throws -> [String]? {
        if let whole = try stringAttribute(obj, name, hdfPath) { return whole }
        var out: [String]? = nil
        var i = 0
        while let chunk = try stringAttribute(obj, "\(name)\(i)", hdfPath) {
            out = (out ?? []) + chunk
            i += 1
        }
        return out
    }

    mutating func readRootMetadata(_ root: hid_t) {
        for key in ["keras_version", "backend"] {
            if let v = try? stringAttribute(root, key, ""), v.count == 1 { plan.metadata[key] = v[0] }
        }
        _ = HDF5Library.takeError()
    }

    // MARK: - Keras

    func hasAttribute(_ obj: hid_t, _ name: String) -> Bool {
        let r = H5Aexists(obj, name) > 0
        _ = HDF5Library.takeError()
        return r
    }

    func kerasWeightsGroup(_ root: hid_t) throws -> (group: H5Handle, path: String)? {
        if H5Lexists(root, "model_weights", hid_t(H5P_DEFAULT)) > 0, irzoo_h5_link_kind(root, "model_weights") == 0 {
            let g = try openHardPath(root, "", "model_weights")
            if H5Iget_type(g.id) == H5I_GROUP, hasAttribute(g.id, "layer_names") || hasAttribute(g.id, "layer_names0") {
                return (g, "/model_weights")
            }
        }
        _ = HDF5Library.takeError()
        if hasAttribute(root, "layer_names") || hasAttribute(root, "layer_names0") {
            return (try openGroup(root, ".", "/"), "")
        }
        return nil
    }

    mutating func planKeras(root: H5Handle, weights: H5Handle, groupPath: String) throws {
        let layerNames = try splitStringAttribute(weights.id, "layer_names", groupPath) ?? []
        for key in ["keras_version", "backend"] {
            if let v = try? stringAttribute(weights.id, key, groupPath), v.count == 1 { plan.metadata[key] = v[0] }
        }
        var convKernels = 0, denseKernels = 0, layersWithWeights = 0
        for layer in layerNames {
            let layerPath = groupPath + "/" + layer
            let group = try openHardPath(weights.id, groupPath, layer, listedIn: "layer_names")
            guard H5Iget_type(group.id) == H5I_GROUP else { throw fail(layerPath, "layer is not a group") }
            guard let weightNames = try splitStringAttribute(group.id, "weight_names", layerPath) else {
                throw fail(layerPath, "layer group has no weight_names attribute")
            }
            if !weightNames.isEmpty { layersWithWeights += 1 }
            for weightName in weightNames {
                let hdfPath = layerPath + "/" + weightName
                let obj = try openHardPath(group.id, layerPath, weightName, listedIn: "weight_names")
                guard H5Iget_type(obj.id) == H5I_DATASET else { throw fail(hdfPath, "listed in weight_names but is not a dataset") }
                var local = weightName
                if local.hasPrefix(layer + "/") { local.removeFirst(layer.count + 1) }
                let key = ([layer] + local.split(separator: "/").map(String.init)).joined(separator: ".")
                guard let t = try planDataset(obj, hdfPath: hdfPath, key: key, required: true) else { continue }
                let leaf = local.split(separator: "/").last.map(String.init) ?? local
                if leaf.hasPrefix("kernel") || leaf.hasPrefix("depthwise_kernel") || leaf.hasPrefix("pointwise_kernel") {
                    if t.shape.count >= 3 { convKernels += 1 } else if t.shape.count == 2 { denseKernels += 1 }
                }
                try add(t)
            }
        }
        guard !plan.tensors.isEmpty else {
            throw fail(groupPath.isEmpty ? nil : groupPath,
                       "holds no weights: Keras layout with \(layerNames.count) layer(s) in layer_names, none with weights")
        }
        plan.wrapper = groupPath.isEmpty ? "keras weights (root)" : "keras model_weights"
        plan.notes.append("Keras layout (\(groupPath.isEmpty ? "weights at the root" : "model_weights")): \(layersWithWeights) layers with weights, keys in layer_names order")
        plan.notes.append("Keras kernels reported as stored, not transposed: \(convKernels) conv kernel(s) HWIO [kh,kw,in,out] (depthwise [kh,kw,in,mult]), \(denseKernels) dense kernel(s) [in,out]")
        scanModelConfig(root.id)
        if H5Lexists(root.id, "optimizer_weights", hid_t(H5P_DEFAULT)) > 0 {
            plan.ignored.append("/optimizer_weights (optimizer state, ignored)")
        }
        _ = HDF5Library.takeError()
        if hasAttribute(root.id, "training_config") { plan.ignored.append("training_config attribute (ignored)") }
    }

    /// Lists Lambda layers in `model_config`: their Python code is data to us, never executed.
    mutating func scanModelConfig(_ root: hid_t) {
        guard let config = try? stringAttribute(root, "model_config", ""), let text = config.first else {
            _ = HDF5Library.takeError()
            return
        }
        guard let json = try? JSON.parse(text, maxDepth: 256) else {
            plan.notes.append("model_config is not valid JSON; left unread (weights do not depend on it)")
            return
        }
        var lambdas: [String] = []
        func visit(_ v: JSON) {
            switch v {
            case .object(let o):
                if o["class_name"]?.stringValue == "Lambda" {
                    lambdas.append(o["config"]?.objectValue?["name"]?.stringValue ?? o["name"]?.stringValue ?? "?")
                }
                for m in o.members { visit(m.value) }
            case .array(let a):
                for x in a { visit(x) }
            default: break
            }
        }
        visit(json)  // depth is bounded by the parser
        if !lambdas.isEmpty {
            plan.notes.append("model_config has \(lambdas.count) Keras Lambda layer(s) (\(lambdas.joined(separator: ", "))): their Python code is never run or parsed; only weights are read")
        }
    }
}
