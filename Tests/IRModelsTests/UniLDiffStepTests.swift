import XCTest
import IRRuntime
import IRModels

/// Two full UniLDiff denoising steps against diffusers: a tiny SDXL UNet with the DAFF injected
/// after conv_in, CFG 5 over [negative; positive] text, Euler on the 7-step SDXL schedule
/// (Tools/gen_unildiff_goldens.py, Tests/Fixtures/models/unildiff-step/). Bar: 1e-4 max abs.
final class UniLDiffStepTests: XCTestCase {
    let step = ModelCase("unildiff-step")
    let modules = ModelCase("unildiff")
    let daffConfig = DAFFConfig(latentChannels: 8, conditioningChannels: 64, hidden: 32, heads: 4, mlpRatio: 4,
                                doubleBlocks: 2, singleBlocks: 2)

    func denoiser() throws -> UniLDiffDenoiser {
        let m = try step.model("unet.safetensors", manifest: "sdxl-unet", layout: "diffusers", family: "sdxl-unet")
        let unet = try XCTUnwrap(m as? SDXLUNetModel)
        let daff = try DAFFInjection(Weights(tensors: try modules.tensors(npz: "daff_weights.npz")), config: daffConfig)
        return try UniLDiffDenoiser(unet: unet, daff: daff, guidance: 5)
    }

    func testTwoGuidedStepsMatchDiffusers() throws {
        let ctx = ComputeContext()
        let io = try step.tensors(npz: "step.npz")
        let d = try denoiser()
        let text = SDXLConditioning(timesteps: [0], encoderHiddenStates: try XCTUnwrap(io["encoder_hidden_states"]),
                                    textEmbeds: try XCTUnwrap(io["text_embeds"]), timeIds: try XCTUnwrap(io["time_ids"]))
        let lq = try XCTUnwrap(io["lq"])
        let sampler = try EulerDiscreteSampler(steps: 7)
        var x = try XCTUnwrap(io["start"])
        for i in 0..<2 {
            let xin = try sampler.scaleModelInput(ctx, x, step: i)
            let eps = try d.guidedEpsilon(ctx, scaledLatent: xin, timestep: sampler.timesteps[i], text: text, lqFeature: lq)
            assertClose(eps, try XCTUnwrap(io["eps_\(i)"]), tolerance: 1e-4, "unildiff full step \(i): guided eps (UNet + DAFF + CFG 5)")
            x = try sampler.step(ctx, epsilon: eps, step: i, sample: x)
            assertClose(x, try XCTUnwrap(io["latent_\(i + 1)"]), tolerance: 1e-4, "unildiff full step \(i): latent")
        }
        // The DAFF must matter: the UNet alone gives a different prediction.
        let scaled = try sampler.scaleModelInput(ctx, try XCTUnwrap(io["start"]), step: 0)
        var cond = text
        cond.timesteps = [sampler.timesteps[0]]
        let plain = try d.unet.predict(try ctx.concat([scaled, scaled], dim: 0), cond)
        let plainEps = try ctx.classifierFreeGuidance(unconditional: try plain.rows(0, 1), conditional: try plain.rows(1, 1), scale: 5)
        XCTAssertGreaterThan(maxAbsDifference(plainEps, try XCTUnwrap(io["eps_0"])), 1e-2)
    }

    func testSampleLoopRunsWholeScheduleWithProgress() throws {
        let ctx = ComputeContext()
        let io = try step.tensors(npz: "step.npz")
        let d = try denoiser()
        let text = SDXLConditioning(timesteps: [0], encoderHiddenStates: try XCTUnwrap(io["encoder_hidden_states"]),
                                    textEmbeds: try XCTUnwrap(io["text_embeds"]), timeIds: try XCTUnwrap(io["time_ids"]))
        let sampler = try EulerDiscreteSampler(steps: 2)
        var seen: [Int] = []
        let out = try d.sample(ctx, sampler: sampler, from: try XCTUnwrap(io["start"]), text: text,
                               lqFeature: try XCTUnwrap(io["lq"]), progress: { i, n in seen.append(i); XCTAssertEqual(n, 2) })
        XCTAssertEqual(seen, [1, 2])
        XCTAssertEqual(out.shape, [1, 4, 4, 6])
        XCTAssertTrue(out.scalars.allSatisfy { $0.isFinite })
        // A wrong LQ feature size is one clear error.
        XCTAssertThrowsError(try d.guidedEpsilon(ctx, scaledLatent: try XCTUnwrap(io["start"]), timestep: 1, text: text,
                                                 lqFeature: try Tensor.zeros([1, 64, 4, 5])))
    }
}
