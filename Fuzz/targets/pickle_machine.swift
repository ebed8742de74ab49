// fuzz-seeds: Tests/Fixtures/torch/pickles Tests/Fixtures/torch Tests/Fixtures/hostile
// fuzz-max-len: 262144
//
// The restricted pickle machine on arbitrary bytes, in default and permissive (TorchScript)
// mode, with a storage resolver that trusts any well-formed persistent id; then the bounded
// walks a reader runs on its result (weight selection, rendering) and the legacy file reader,
// which runs the machine several times over one stream and checks the storages after it.
@testable import IRCheckpoint
import IRTensor

private let limits: PickleLimits = {
    var l = PickleLimits()
    l.maxWalkNodes = 1 << 16  // keep "billion laughs" inputs fast: the bound is what is tested
    return l
}()

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    let buffer = ByteBuffer.copying(data)
    let size = data.count
    for permissive in [false, true] {
        let machine = PickleMachine(limits: limits, permissive: permissive, torchScript: permissive)
        machine.persistentLoad = { pid, heap in
            let id = try TorchPersistentID.parse(pid, heap: heap, legacy: true)
            return heap.append(.storage(try TorchStorageRef(key: id.key, type: id.type, numel: id.numel)))
        }
        guard let (value, _) = try? machine.run(buffer.whole) else { continue }
        _ = try? PickleRender.render(value, machine.heap, limits: limits)
        _ = try? Wrappers.select(root: value, heap: machine.heap, select: nil, limits: limits)
        _ = try? Wrappers.select(root: value, heap: machine.heap, select: "state_dict", limits: limits)
        _ = try? TorchScriptModules.select(root: value, heap: machine.heap, classes: [:], select: nil, limits: limits)
    }
    if size > 0 {
        _ = try? TorchLegacyReader.read(file: buffer, path: "fuzz", options: ReadOptions(), limits: limits)
        _ = try? TorchLegacyReader.read(file: buffer, path: "fuzz", options: ReadOptions(permissive: true), limits: limits)
    }
}
