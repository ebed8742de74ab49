/// What an allow-listed global is. The machine never imports or calls anything: each kind
/// says which inert record a REDUCE/NEWOBJ/BUILD on it produces (see `PickleMachine+Calls`).
public enum PickleGlobalKind: Sendable, Equatable {
    /// `torch._utils._rebuild_tensor` (1), `_rebuild_tensor_v2` (2), `_rebuild_tensor_v3` (3).
    case rebuildTensor(version: Int)
    /// `torch._utils._rebuild_parameter` / `_rebuild_parameter_with_state`.
    case rebuildParameter
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`.
    case rebuildFromType
    /// Tensor rebuilds irzoo recognises but cannot convert (quantized, sparse, meta, device copies).
    case rebuildUnsupported
    case storageType(TorchStorageType)
    /// `torch.float32` and the other dtype objects.
    case torchDType(String)
    /// `torch.Tensor`, `torch.nn.parameter.Parameter`, `torch.nn.parameter.Buffer`: only named, never built.
    case tensorClass
    case torchSize, torchDevice, torchLayout
    case orderedDict, counter
    case set, frozenset, complex
    /// `builtins.bytes` / `bytearray`: `()`, `(bytes)` or `(str, encoding)` (protocols < 3 spell bytes so).
    case bytesType
    /// `_codecs.encode(str, encoding)`: how protocol 2 spells a `bytes` value.
    case codecsEncode
    /// `builtins.object`, only as `copyreg._reconstructor`'s base.
    case objectClass
    /// `copyreg._reconstructor(cls, base, state)`: how protocols 0/1 build plain objects.
    case reconstructor
    case numpyScalar, numpyReconstruct, numpyFromBuffer, numpyNDArray, numpyDType
    case namespace, attributeDict
    /// `torch.torch_version.TorchVersion` (a str subclass, as `torch.__version__` pickles): its string.
    case torchVersion
    /// `torch.jit._pickle.restore_type_tag` and the `build_*list` helpers: identity.
    case jitIdentity
    /// A `__torch__.*` class of a TorchScript archive (allowed only when reading one).
    case torchScriptClass
    /// Permissive mode: an unknown global, kept as an inert name.
    case placeholder
}

/// The fixed allow-list. Anything else is refused by default, whatever module it comes from:
/// a deny-list would be bypassable (see docs/SECURITY.md).
public enum PickleAllowList {
    /// Python 2 module names that Python 3's unpickler maps (fix_imports) for protocols < 3.
    private static let python2Modules: [String: String] = [
        "__builtin__": "builtins", "copy_reg": "copyreg",
    ]

    /// The Python 3 spelling of a module name.
    public static func canonicalModule(_ module: String) -> String {
        python2Modules[module] ?? module
    }

    /// The kind of `module.name`, or nil when it is not allowed.
    public static func kind(module rawModule: String, name: String, torchScript: Bool) -> PickleGlobalKind? {
        let module = canonicalModule(rawModule)
        switch module {
        case "torch._utils":
            switch name {
            case "_rebuild_tensor": return .rebuildTensor(version: 1)
            case "_rebuild_tensor_v2": return .rebuildTensor(version: 2)
            case "_rebuild_tensor_v3": return .rebuildTensor(version: 3)
            case "_rebuild_parameter", "_rebuild_parameter_with_state": return .rebuildParameter
            case "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                 "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor",
                 "_rebuild_device_tensor_from_numpy", "_rebuild_nested_tensor":
                return .rebuildUnsupported
            default: return nil
            }
        case "torch._tensor":
            return name == "_rebuild_from_type_v2" ? .rebuildFromType : nil
        case "torch":
            if let t = TorchStorageType.byName[name] { return .storageType(t) }
            if TorchDTypeName.byName[name] != nil { return .torchDType(name) }
            switch name {
            case "Size": return .torchSize
            case "device": return .torchDevice
            case "Tensor": return .tensorClass
            default: return nil
            }
        case "torch.storage":
            return name == "UntypedStorage" ? .storageType(TorchStorageType.byName["UntypedStorage"]!) : nil
        case "torch.nn.parameter":
            return (name == "Parameter" || name == "Buffer") ? .tensorClass : nil
        case "torch.serialization":
            return name == "_get_layout" ? .torchLayout : nil
        case "torch.torch_version":
            return name == "TorchVersion" ? .torchVersion : nil
        case "torch.jit._pickle":
            switch name {
            case "restore_type_tag", "build_intlist", "build_tensorlist", "build_doublelist",
                 "build_boollist", "build_genericlist":
                return .jitIdentity
            default: return nil
            }
        case "collections":
            switch name {
            case "OrderedDict": return .orderedDict
            case "Counter": return .counter
            default: return nil
            }
        case "builtins":
            switch name {
            case "set": return .set
            case "frozenset": return .frozenset
            case "bytes", "bytearray": return .bytesType
            case "complex": return .complex
            case "object": return .objectClass
            default: return nil
            }
        case "_codecs":
            return name == "encode" ? .codecsEncode : nil
        case "copyreg":
            return name == "_reconstructor" ? .reconstructor : nil
        case "argparse":
            return name == "Namespace" ? .namespace : nil
        case "lightning_fabric.utilities.data", "lightning.fabric.utilities.data",
             "pytorch_lightning.utilities.parsing", "lightning.pytorch.utilities.parsing":
            return name == "AttributeDict" ? .attributeDict : nil
        case "numpy":
            switch name {
            case "dtype": return .numpyDType
            case "ndarray": return .numpyNDArray
            default: return nil
            }
        case "numpy.core.multiarray", "numpy._core.multiarray":
            switch name {
            case "scalar": return .numpyScalar
            case "_reconstruct": return .numpyReconstruct
            default: return nil
            }
        case "numpy.core.numeric", "numpy._core.numeric":
            return name == "_frombuffer" ? .numpyFromBuffer : nil
        case "numpy.dtypes":
            // The dtype classes (Float32DType, ...) numpy 2 may name.
            return name.hasSuffix("DType") && name.allSatisfy({ $0.isLetter || $0.isNumber }) ? .numpyDType : nil
        default:
            if torchScript && (module == "__torch__" || module.hasPrefix("__torch__.")) {
                return .torchScriptClass
            }
            return nil
        }
    }
}
