import IRModels
import IRRegistry
import IRTensor
import XCTest

final class KeyMapperTests: XCTestCase {
    func testPatterns() throws {
        let p = try KeyPattern("visual.transformer.resblocks.{n}.attn.in_proj_{p}")
        XCTAssertEqual(p.match("visual.transformer.resblocks.17.attn.in_proj_weight"), ["n": "17", "p": "weight"])
        XCTAssertNil(p.match("visual.transformer.resblocks.1.2.attn.in_proj_weight"))  // {n} is one segment
        XCTAssertNil(p.match("xvisual.transformer.resblocks.1.attn.in_proj_weight"))   // anchored
        let rest = try KeyPattern("{module*}.pos_embed")
        XCTAssertEqual(rest.match("decoder_guide_attentions.2.pos_embed"), ["module": "decoder_guide_attentions.2"])
        XCTAssertNil(rest.match("pos_embed"))
        XCTAssertEqual(try KeyPattern("a.{x}.b").fill(["x": "7"]), "a.7.b")
        XCTAssertThrowsError(try KeyPattern("a.{x"))
        XCTAssertThrowsError(try KeyPattern("{a}{b}"))
        XCTAssertThrowsError(try KeyPattern("a.{}.b"))
    }

    private func record(_ name: String, _ shape: [Int], _ values: [Float]) throws -> TensorRecord {
        let buffer = values.withUnsafeBytes { ByteBuffer.copying($0) }
        return try TensorRecord(name: name, dtype: .f32, shape: shape, data: buffer.whole)
    }

    private func floats(_ r: TensorRecord) -> [Float] {
        r.data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// OpenAI's fused in_proj rows are q | k | v; the split keeps that order and the bytes.
    func testOpenAIToHFSplitAndTransposeOnRealBytes() throws {
        let zoo = try KeyList.zoo()
        let layout = try XCTUnwrap(zoo.manifest("clip-vit-l-14")?.layout(named: "openai-torchscript"))
        let d = 2
        let inProj = (0..<(3 * d * d)).map { Float($0) }
        let inBias = (0..<(3 * d)).map { Float(100 + $0) }
        let proj: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3]
        let tensors = [
            try record("visual.transformer.resblocks.0.attn.in_proj_weight", [3 * d, d], inProj),
            try record("visual.transformer.resblocks.0.attn.in_proj_bias", [3 * d], inBias),
            try record("visual.proj", [2, 3], proj),
            try record("visual.ln_pre.weight", [d], [1, 1]),
            try record("token_embedding.weight", [4, d], [Float](repeating: 0, count: 8)),
        ]
        let mapped = try KeyMapper.apply(layout, to: tensors)
        let byName = Dictionary(uniqueKeysWithValues: mapped.tensors.map { ($0.name, $0) })
        let l = "vision_model.encoder.layers.0.self_attn."
        XCTAssertEqual(floats(try XCTUnwrap(byName[l + "q_proj.weight"])), [0, 1, 2, 3])
        XCTAssertEqual(floats(try XCTUnwrap(byName[l + "k_proj.weight"])), [4, 5, 6, 7])
        XCTAssertEqual(floats(try XCTUnwrap(byName[l + "v_proj.weight"])), [8, 9, 10, 11])
        XCTAssertEqual(floats(try XCTUnwrap(byName[l + "v_proj.bias"])), [104, 105])
        XCTAssertEqual(byName[l + "q_proj.weight"]?.shape, [2, 2])
        // Zero-copy: the parts are windows of the fused tensor's bytes.
        XCTAssertTrue(byName[l + "k_proj.weight"]!.data.buffer === tensors[0].data.buffer)
        let projection = try XCTUnwrap(byName["visual_projection.weight"])
        XCTAssertEqual(projection.shape, [3, 2])
        XCTAssertEqual(floats(projection), [1, 4, 2, 5, 3, 6])
        XCTAssertNotNil(byName["vision_model.pre_layrnorm.weight"])
        XCTAssertEqual(mapped.dropped.map(\.names), [["token_embedding.weight"]])
        XCTAssertEqual(mapped.split, 2)
        XCTAssertEqual(mapped.renamed, 2)
    }

    func testSplitOfIndivisibleTensorIsAnError() throws {
        let layout = try XCTUnwrap(try KeyList.zoo().manifest("clip-vit-l-14")?.layout(named: "openai-torchscript"))
        let bad = [TensorShape(name: "visual.transformer.resblocks.0.attn.in_proj_weight", shape: [7, 2])]
        XCTAssertThrowsError(try KeyMapper.apply(layout, to: bad)) { error in
            XCTAssertTrue("\(error)".contains("not divisible into 3"), "\(error)")
        }
    }

    func testTwoSourcesOnOneNameIsAnError() throws {
        let layout = SourceLayout(name: "t", stripPrefixes: ["module."])
        let clash = [TensorShape(name: "module.a.weight", shape: [1]), TensorShape(name: "a.weight", shape: [1])]
        XCTAssertThrowsError(try KeyMapper.apply(layout, to: clash)) { error in
            XCTAssertTrue("\(error)".contains("a.weight"), "\(error)")
        }
    }
}
