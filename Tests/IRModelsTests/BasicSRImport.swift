import XCTest
import IRCheckpoint
import IRTensor
import IRRegistry
import IRRuntime
import IRModels

/// A BasicSR `{'params': state_dict}` .pth imported the way `irzoo import --arch ID` does it:
/// the container read, the manifest's layouts tried, the config read off the shapes (goldens are
/// tiny configs), the inventory checked.
struct BasicSRImport {
    let loaded: LoadedCheckpoint
    let resolution: Resolution<TensorRecord>

    init(_ golden: ModelCase, manifest id: String, file: String = "model.pth", config: JSON? = nil) throws {
        let manifest = try XCTUnwrap(try Zoo.embedded().manifest(id), "manifest \(id)")
        loaded = try CheckpointReader.read(path: golden.path(file))
        resolution = try ModelResolver.resolve(loaded.tensors, manifest: manifest, configOverride: config)
    }

    var records: [TensorRecord] { resolution.mapped.tensors }

    func model(config: ModelConfig? = nil, threads: Int? = nil) throws -> Model {
        try ModelFactory.make(config: config ?? resolution.config, records: records, source: "model.pth",
                              context: ComputeContext(threads: threads))
    }
}
