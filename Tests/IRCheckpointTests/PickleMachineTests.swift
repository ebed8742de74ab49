import Foundation
import IRCheckpoint
import IRTensor
import IRTestSupport
import XCTest

final class PickleMachineTests: XCTestCase {
    private func run(_ bytes: [UInt8], permissive: Bool = false, limits: PickleLimits = PickleLimits()) throws -> (PickleValue, PickleMachine) {
        let m = PickleMachine(limits: limits, permissive: permissive)
        let v = try m.run(ByteBuffer.copying(bytes).whole).value
        return (v, m)
    }

    private func render(_ bytes: [UInt8], permissive: Bool = false) throws -> String {
        let (v, m) = try run(bytes, permissive: permissive)
        return try PickleRender.render(v, m.heap)
    }

    private func assertPickleError(_ bytes: [UInt8], _ fragment: String, offset: Int? = nil, limits: PickleLimits = PickleLimits(),
                                   file: StaticString = #filePath, line: UInt = #line) {
        do {
            let (v, m) = try run(bytes, limits: limits)
            _ = try PickleRender.render(v, m.heap, limits: limits)
            XCTFail("expected '\(fragment)'", file: file, line: line)
        } catch let e as PickleError {
            XCTAssertTrue(e.description.contains(fragment), "'\(e)' lacks '\(fragment)'", file: file, line: line)
            if let offset { XCTAssertEqual(e.offset, offset, "offset of '\(e)'", file: file, line: line) }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The same Python value pickled with protocols 0 to 5 renders exactly as Python renders it.
    func testProtocolsZeroToFiveMatchPython() throws {
        let want = TorchExpectations.shared.pickles
        XCTAssertEqual(want.count, 6)
        for (file, expected) in want {
            let data = try Array(Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("torch/pickles/\(file)"))))
            XCTAssertEqual(try render(data), expected, file)
        }
    }

    func testTextOpcodes() throws {
        // STRING with Python 2 escapes, INT booleans, LONG, FLOAT, GET/PUT, DICT, LIST, TUPLE.
        XCTAssertEqual(try render(bytes("S'a\\n\\x41\\101\\''\np0\n.")), "str:610a414127")
        XCTAssertEqual(try render(bytes("(I01\nI00\nI-5\nL123456789012345678901234567890L\nF0.5\nt.")),
                       "(True, False, -5, 123456789012345678901234567890, float(3fe0000000000000))")
        XCTAssertEqual(try render(bytes("(dp0\nVk\u{5c}u00e9\np1\n(lp2\nI1\nag1\nas.")), "{str:6bc3a9: [1, str:6bc3a9]}")
    }

    func testBinaryIntegersAndBigIntegers() throws {
        // LONG1 of torch's legacy magic number, LONG1 -1, BININT -2, BININT2 65535.
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        XCTAssertEqual(try render(magic), "119547037146038801333356")
        XCTAssertEqual(try render([0x80, 0x02, 0x8A, 0x01, 0xFF, 0x2E]), "-1")
        XCTAssertEqual(try render([0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x2E]), "-2")
        XCTAssertEqual(try render([0x4D, 0xFF, 0xFF, 0x2E]), "65535")
    }

    /// MEMOIZE stores at len(memo), as CPython does, whatever BINPUT used before; sparse
    /// indices work without growing a dense table.
    func testMemoFollowsPythonSemantics() throws {
        XCTAssertEqual(try render([0x80, 0x04, 0x4B, 0x07, 0x71, 0x05, 0x94, 0x30, 0x68, 0x01, 0x68, 0x05, 0x86, 0x2E]), "(7, 7)")
        let far: [UInt8] = [0x80, 0x02, 0x4B, 0x09, 0x72] + le32(4_000_000) + [0x30, 0x6A] + le32(4_000_000) + [0x2E]
        XCTAssertEqual(try render(far), "9")
        assertPickleError([0x80, 0x04, 0x4B, 0x07, 0x71, 0x05, 0x94, 0x30, 0x68, 0x02, 0x2E], "memo index 2 was never stored")
    }

    func testInstAndObjBuildAllowListedClasses() throws {
        XCTAssertEqual(try render(bytes("(iargparse\nNamespace\n(dS'a'\nI1\nsb.")), "argparse.Namespace()@state({\"a\": 1})")
        XCTAssertEqual(try render(bytes("(cargparse\nNamespace\no.")), "argparse.Namespace()")
    }

    // MARK: - Refusals

    func testForbiddenGlobalsAreRefusedWithNameAndOffset() {
        assertPickleError(bytes("cos\nsystem\n(S'touch x'\ntR."), "refused global os.system", offset: 0)
        assertPickleError([0x80, 0x02] + bytes("c__builtin__\neval\n."), "refused global __builtin__.eval", offset: 2)
        // STACK_GLOBAL with names from the memo, mixing BINPUT and MEMOIZE.
        let stack: [UInt8] = [0x80, 0x04, 0x8C, 0x0B] + bytes("collections") + [0x94, 0x8C, 0x0B] + bytes("OrderedDict") + [0x94,
            0x8C, 0x02] + bytes("os") + [0x71, 0x00, 0x8C, 0x06] + bytes("system") + [0x71, 0x01, 0x30, 0x30, 0x30, 0x30,
            0x68, 0x00, 0x68, 0x01, 0x93, 0x2E]
        assertPickleError(stack, "refused global os.system", offset: 54)
        // INST names its class inline.
        assertPickleError(bytes("(S'x'\nisubprocess\ncall\n."), "refused global subprocess.call")
    }

    func testControlCharactersInNamesAreEscaped() {
        assertPickleError(bytes("cos\u{1b}[31m\nsystem\n."), "refused global os\\u{1b}[31m.system")
    }

    func testStructuralAbuse() {
        assertPickleError([0x80, 0x02, 0x5D, 0x4B, 0x01, 0x4B, 0x02, 0x73, 0x2E], "SETITEM on list: only dicts take SETITEM")
        assertPickleError([0x80, 0x02, 0x7D, 0x4B, 0x01, 0x61, 0x2E], "APPEND on dict: only lists take APPEND")
        assertPickleError([0x80, 0x02, 0x5D, 0x7D, 0x62, 0x2E], "BUILD on list is not allowed")
        assertPickleError([0x80, 0x02, 0x4B, 0x01, 0x29, 0x52, 0x2E], "REDUCE on int: only allow-listed functions can be called")
        assertPickleError([0x80, 0x02, 0x68, 0x05, 0x2E], "memo index 5 was never stored", offset: 2)
        assertPickleError([0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x2E], "STOP leaves 1 values")
        assertPickleError([0x80, 0x02, 0x30, 0x2E], "stack underflow")
        assertPickleError([0x80, 0x02, 0x28, 0x4B, 0x01, 0x30, 0x30, 0x2E], "stack underflow")
        assertPickleError([0x80, 0x02, 0xFF], "unknown opcode 0xff", offset: 2)
        assertPickleError([0x80, 0x02, 0x82, 0x01, 0x2E], "extension registry opcodes")
        assertPickleError([0x80, 0x05, 0x97, 0x2E], "out-of-band buffers")
        assertPickleError([0x80, 0x06, 0x2E], "unsupported pickle protocol 6")
        assertPickleError([0x80, 0x02, 0x51, 0x2E], "stack underflow")
        assertPickleError([0x80, 0x02, 0x4E, 0x51, 0x2E], "persistent id None in a pickle that may not reference storages")
    }

    func testSizesAreCheckedBeforeUse() {
        assertPickleError([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x61, 0x62], "pickle truncated: needs 4294967295 bytes, 2 left")
        assertPickleError([0x80, 0x04, 0x8E] + [UInt8](repeating: 0xFF, count: 8) + [0x2E], "declares 18446744073709551615 bytes")
        assertPickleError([0x80, 0x02, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F], "LONG4 of 2147483647 bytes exceeds")
        assertPickleError([0x80, 0x02, 0x8B, 0x00, 0x00, 0x00, 0x80], "negative byte count")
        assertPickleError([0x80, 0x02, 0x58, 0x02, 0x00, 0x00, 0x00, 0xC3, 0x28, 0x2E], "not valid UTF-8")
        assertPickleError([0x80, 0x02], "pickle ends without STOP")
        // A frame that ends in the middle of an opcode's argument.
        assertPickleError([0x80, 0x04, 0x95, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x8C, 0x03, 0x61, 0x62, 0x63, 0x2E],
                          "crosses the end of its frame")
        assertPickleError([0x80, 0x04, 0x95, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x2E], "FRAME of 255 bytes but only 1 remain")
    }

    func testLimits() {
        var small = PickleLimits()
        small.maxMemo = 3
        assertPickleError([0x80, 0x02, 0x4E, 0x71, 0, 0x71, 1, 0x71, 2, 0x71, 3, 0x2E], "memo grows past 3", limits: small)
        small = PickleLimits()
        small.maxStack = 4
        assertPickleError([0x80, 0x02] + [UInt8](repeating: 0x4E, count: 5) + [0x2E], "stack grows past 4", limits: small)
        // 300 nested 1-tuples: built in 300 bytes, refused by depth, not by the Swift call stack.
        assertPickleError([0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 300) + [0x2E], "nesting deeper than 256")
        // Deep lists by mutation after insertion get past the build-time check; walks catch them.
        var deep: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0]
        for i in 1 ... 400 {
            deep += [0x5D, 0x72] + le32(i) + [0x61, 0x30, 0x6A] + le32(i)
        }
        deep += [0x30, 0x6A] + le32(0) + [0x2E]
        assertPickleError(deep, "nesting deeper than 256")
        // Billion laughs: L(k+1) = [L(k), L(k)], 64 levels: tiny pickle, 2^64 nodes when walked.
        var laughs: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0, 0x30]
        for _ in 0 ..< 64 { laughs += [0x28, 0x68, 0, 0x68, 0, 0x6C, 0x71, 0, 0x30] }
        laughs += [0x68, 0, 0x2E]
        var walk = PickleLimits()
        walk.maxWalkNodes = 1 << 16
        assertPickleError(laughs, "structure expands past 65536 nodes", limits: walk)
    }

    func testPermissiveModeMakesInertPlaceholders() throws {
        let p = bytes("cpathlib\nPosixPath\n(S'/x'\ntR(dS'k'\nI1\nsb.")
        assertPickleError(p, "refused global pathlib.PosixPath")
        let (v, m) = try run(p, permissive: true)
        XCTAssertEqual(try PickleRender.render(v, m.heap), "pathlib.PosixPath(\"/x\")")
        XCTAssertEqual(m.placeholders.map(\.qualifiedName), ["pathlib.PosixPath"])
        // Even permissive, a tensor cannot be built from a placeholder.
        let bad = [0x80, 0x02] + bytes("ctorch._utils\n_rebuild_tensor_v2\n(cos\nsystem\n") + [0x4B, 0, 0x29, 0x29, 0x89, 0x7D, 0x74, 0x52, 0x2E]
        let m2 = PickleMachine(permissive: true)
        XCTAssertThrowsError(try m2.run(ByteBuffer.copying(bad).whole)) { e in
            XCTAssertTrue("\(e)".contains("bad arguments to torch._utils._rebuild_tensor_v2"), "\(e)")
        }
    }

    private func le32(_ v: Int) -> [UInt8] { (0 ..< 4).map { UInt8(v >> (8 * $0) & 0xFF) } }
}
