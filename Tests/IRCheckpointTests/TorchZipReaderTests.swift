import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class TorchZipReaderTests: XCTestCase {
    /// Every dtype and layout, in each zip variant, against the values torch saved.
    func testEveryDTypeAndLayoutInEveryZipVariant() throws {
        for name in ["dtypes.pt", "dtypes_proto1.pt", "dtypes_proto4.pt", "dtypes_proto5.pt",
                     "dtypes_bigendian.pt", "dtypes_zip64.pt", "dtypes_deflated.pt"] {
            let got = try TorchFixture.check(name)
            XCTAssertEqual(got.tensors.count, 23, name)
        }
    }

    func testContiguousTensorsAreZeroCopyAndSharedStoragesShareBytes() throws {
        let buf = try ByteBuffer.map(path: TorchFixture.path("dtypes.pt"))
        let got = try TorchZipReader.read(file: buf, path: "dtypes.pt", options: ReadOptions())
        let byName = Dictionary(uniqueKeysWithValues: got.tensors.map { ($0.name, $0) })
        for name in ["f32", "f16", "bf16", "i64", "bool", "scalar", "base", "slice", "view2d", "tied"] {
            XCTAssertTrue(byName[name]!.data.buffer === buf, "\(name) should be a view of the mapped file")
        }
        // slice = base[5:11]: the same storage, 5 elements in.
        XCTAssertEqual(byName["slice"]!.data.pointer, byName["base"]!.data.pointer + 5 * 4)
        XCTAssertEqual(byName["view2d"]!.data.pointer, byName["base"]!.data.pointer)
        XCTAssertEqual(byName["tied"]!.data.pointer, byName["f32"]!.data.pointer)
        // Storages are 64-byte aligned in torch archives.
        XCTAssertEqual(Int(bitPattern: byName["base"]!.data.pointer) % 64, 0)
        // Non-contiguous views are materialised into fresh buffers.
        for name in ["transposed", "strided", "expanded", "bf16_t", "i64_t", "channels_last"] {
            XCTAssertFalse(byName[name]!.data.buffer === buf, "\(name) must be materialised")
        }
    }

    func testExactValuesOfViews() throws {
        let got = try CheckpointReader.read(path: TorchFixture.path("dtypes.pt"))
        let byName = Dictionary(uniqueKeysWithValues: got.tensors.map { ($0.name, $0) })
        func floats(_ r: TensorRecord) -> [Double] { (0 ..< r.elementCount).map { ElementConversion.value(r.data.pointer, r.dtype, $0) } }
        // base = arange(24); transposed = base.view(4, 6).t(); strided = base.view(4, 6)[1:, ::2]
        XCTAssertEqual(floats(byName["slice"]!), [5, 6, 7, 8, 9, 10])
        XCTAssertEqual(byName["transposed"]!.shape, [6, 4])
        XCTAssertEqual(Array(floats(byName["transposed"]!).prefix(8)), [0, 6, 12, 18, 1, 7, 13, 19])
        XCTAssertEqual(floats(byName["strided"]!), [6, 8, 10, 12, 14, 16, 18, 20, 22])
        XCTAssertEqual(floats(byName["i64_t"]!), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        XCTAssertEqual(byName["scalar"]!.shape, [])
        XCTAssertEqual(floats(byName["scalar"]!), [3.5])
        XCTAssertEqual(byName["empty"]!.shape, [0, 3])
        XCTAssertEqual(byName["empty"]!.byteCount, 0)
    }

    /// offset + Σ (size_i − 1)·stride_i must lie inside the storage, computed without overflow.
    func testTensorExtentsAreCheckedWithoutOverflow() throws {
        let f32 = try XCTUnwrap(PickleAllowList.kind(module: "torch", name: "FloatStorage", torchScript: false))
        guard case .storageType(let type) = f32 else { return XCTFail("FloatStorage is a storage type") }
        let storage = try TorchStorageRef(key: "0", type: type, numel: 12)
        func check(_ offset: Int, _ shape: [Int], _ strides: [Int]) -> String? {
            do {
                _ = try TorchTensorRef.validated(storage: storage, offset: offset, shape: shape, strides: strides)
                return nil
            } catch { return "\(error)" }
        }
        XCTAssertNil(check(0, [3, 4], [4, 1]))
        XCTAssertNil(check(11, [1], [1]))
        XCTAssertNil(check(0, [4, 3], [1, 4]))       // a transposed view
        XCTAssertNil(check(12, [0, 5], [5, 1]))      // empty, offset at the end
        XCTAssertNotNil(check(13, [0], [1]))         // empty, offset past the end
        XCTAssertTrue(check(1, [3, 4], [4, 1])?.contains("reaches element 12 but storage '0' holds 12 elements") == true)
        XCTAssertTrue(check(0, [3], [Int.max])?.contains("extent overflows") == true)
        XCTAssertTrue(check(Int.max, [2], [1])?.contains("extent overflows") == true)
        XCTAssertTrue(check(0, [1 << 40, 1 << 40], [0, 0])?.contains("overflows") == true)
        XCTAssertTrue(check(0, [2], [-1])?.contains("negative stride") == true)
        XCTAssertTrue(check(0, [2, 2], [1])?.contains("2 sizes but 1 strides") == true)
        XCTAssertThrowsError(try TorchStorageRef(key: "x", type: type, numel: Int.max / 2))
    }

    func testBigEndianArchiveIsConvertedOnceAndNoted() throws {
        let got = try TorchFixture.check("dtypes_bigendian.pt")
        XCTAssertEqual(got.metadata["byteorder"], "big")
        XCTAssertTrue(got.notes.contains { $0.contains("big-endian") })
        let byName = Dictionary(uniqueKeysWithValues: got.tensors.map { ($0.name, $0) })
        // One swapped copy of base's storage serves base, slice and view2d.
        XCTAssertTrue(byName["slice"]!.data.buffer === byName["base"]!.data.buffer)
    }

    func testWrappers() throws {
        try TorchFixture.check("basicsr.pth")
        try TorchFixture.check("dataparallel.pth")
        try TorchFixture.check("lightning.ckpt")
        try TorchFixture.check("nested.pth")
        try TorchFixture.check("single_tensor.pt")
    }

    func testSelectOverridesTheDefaultChoice() throws {
        for (file, want) in TorchExpectations.shared.files where want.format != "torchscript" {
            for (key, sel) in want.select ?? [:] {
                let got = try CheckpointReader.read(path: TorchFixture.path(file), options: ReadOptions(select: key))
                XCTAssertEqual(got.wrapper, sel.wrapper, "\(file) --select \(key)")
                XCTAssertEqual(got.tensors.map(\.name), sel.names, "\(file) --select \(key)")
                if let ign = sel.ignored { XCTAssertEqual(got.ignored, ign, "\(file) --select \(key)") }
            }
        }
    }

    func testSelectOfAMissingKeyNamesTheChoices() {
        assertRefused("nothing called 'params_emma' to select; top-level entries: params, params_ema") {
            _ = try CheckpointReader.read(path: TorchFixture.path("basicsr.pth"), options: ReadOptions(select: "params_emma"))
        }
    }

    func testLightningHyperParametersAreInert() throws {
        // Namespace, numpy scalars/arrays/dtypes and AttributeDict are allow-listed records.
        let got = try TorchFixture.check("lightning.ckpt")
        XCTAssertTrue(got.ignored.contains("hyper_parameters (AttributeDict of 6, ignored)"))
        let hp = try CheckpointReader.read(path: TorchFixture.path("lightning.ckpt"), options: ReadOptions(select: "hyper_parameters"))
        XCTAssertEqual(hp.tensors.count, 0)
        XCTAssertTrue(hp.ignored.contains("args.lr (float, ignored)"), "\(hp.ignored)")
        XCTAssertTrue(hp.ignored.contains("np_array (numpy.ndarray, ignored)"), "\(hp.ignored)")
        XCTAssertTrue(hp.ignored.contains("np_float (numpy._core.multiarray.scalar, ignored)") ||
                      hp.ignored.contains("np_float (numpy.core.multiarray.scalar, ignored)"), "\(hp.ignored)")
    }

    func testUnknownGlobalIsRefusedByDefaultAndAPlaceholderWhenPermissive() throws {
        let name = "lightning_pathlib.ckpt"
        let want = TorchExpectations.shared.files[name]!
        assertRefused("refused global \(want.refused!)") {
            _ = try CheckpointReader.read(path: TorchFixture.path(name))
        }
        assertRefused("(at byte ") { _ = try CheckpointReader.read(path: TorchFixture.path(name)) }
        let got = try TorchFixture.check(name, options: ReadOptions(permissive: true))
        XCTAssertTrue(got.ignored.contains { $0.hasPrefix("placeholder for unknown global pathlib.PurePosixPath (first at byte ") },
                      "\(got.ignored)")
    }
}
