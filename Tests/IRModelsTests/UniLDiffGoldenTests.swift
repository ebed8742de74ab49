import XCTest
import IRRuntime
import IRModels

/// UniLDiff's own modules and sampler against PyTorch / diffusers (Tools/gen_unildiff_goldens.py,
/// fixtures in Tests/Fixtures/models/unildiff/). Tolerance 1e-4 max abs, as the manifests state.
final class UniLDiffGoldenTests: XCTestCase {
    let fixtures = ModelCase("unildiff")
    let tolerance: Float = 1e-4
    /// The tiny configs the generator used (its DAFF_TINY / DAEM_TINY).
    let daffConfig = DAFFConfig(latentChannels: 8, conditioningChannels: 64, hidden: 32, heads: 4, mlpRatio: 4,
                                doubleBlocks: 2, singleBlocks: 2)
    let daemConfig = DAEMConfig(dim: 8, heads: 2, ffnExpansionFactor: 4, rank: 2, experts: 4, frequencyDim: 16)

    func testDAFFMatchesReference() throws {
        let ctx = ComputeContext()
        let w = Weights(tensors: try fixtures.tensors(npz: "daff_weights.npz"))
        let io = try fixtures.tensors(npz: "daff_io.npz")
        let daff = try DAFFInjection(w, config: daffConfig)
        let sample = try XCTUnwrap(io["sample"]), lq = try XCTUnwrap(io["lq"])
        let t = try XCTUnwrap(io["t"]).scalars

        let contexts = try daff.conditionEmbedding(ctx, lq)
        assertClose(contexts, try XCTUnwrap(io["contexts"]), tolerance: tolerance, "unildiff DAFF condition_embedding")
        let tokens = try daff.transformer(ctx, sample, timesteps: t, contexts: contexts)
        assertClose(tokens, try XCTUnwrap(io["tokens"]), tolerance: tolerance, "unildiff DAFF transformer (t=951)")
        let out = try daff(ctx, sample: sample, timesteps: t, lqFeature: lq)
        assertClose(out, try XCTUnwrap(io["out"]), tolerance: tolerance, "unildiff DAFF injection (t=951)")
        let out1 = try daff(ctx, sample: sample, timesteps: [1, 1], lqFeature: lq)
        assertClose(out1, try XCTUnwrap(io["out_t1"]), tolerance: tolerance, "unildiff DAFF injection (t=1, per sample)")
        // The update must matter: a model that skipped the DAFF path would fail the goldens above.
        XCTAssertGreaterThan(maxAbsDifference(out, sample), 10 * tolerance)
        XCTAssertGreaterThan(maxAbsDifference(out, out1), 10 * tolerance, "the timestep must change the output")
    }

    func testDAFFRefusesBadInputs() throws {
        let ctx = ComputeContext()
        let w = Weights(tensors: try fixtures.tensors(npz: "daff_weights.npz"))
        let daff = try DAFFInjection(w, config: daffConfig)
        let sample = try Tensor.zeros([1, 8, 4, 6])
        XCTAssertThrowsError(try daff(ctx, sample: sample, timesteps: [1], lqFeature: try Tensor.zeros([1, 64, 4, 5])))
        XCTAssertThrowsError(try daff(ctx, sample: sample, timesteps: [1], lqFeature: try Tensor.zeros([1, 32, 4, 6])))
        XCTAssertThrowsError(try daff(ctx, sample: sample, timesteps: [1, 2, 3], lqFeature: try Tensor.zeros([1, 64, 4, 6])))
        // A wrong config fails at load with the weight's name.
        var wrong = daffConfig
        wrong.hidden = 16
        XCTAssertThrowsError(try DAFFInjection(w, config: wrong)) { error in
            XCTAssertTrue("\(error)".contains("latent_in"), "\(error)")
        }
    }

    func testDAEMBlockMatchesReference() throws {
        let ctx = ComputeContext()
        let w = Weights(tensors: try fixtures.tensors(npz: "daem_weights.npz"))
        let io = try fixtures.tensors(npz: "daem_io.npz")
        let freq = try DAEMFrequencyEmbedding(w.scoped("freq_embed"), dim: daemConfig.frequencyDim)
        let femb = try freq(ctx, try XCTUnwrap(io["freq_feature"]))
        assertClose(femb, try XCTUnwrap(io["freq_emb"]), tolerance: tolerance, "unildiff DAEM frequency embedding")

        let block = try DAEMBlock(w, config: daemConfig)
        let (out, experts) = try block(ctx, try XCTUnwrap(io["x"]), frequencyEmbedding: try XCTUnwrap(io["freq_emb"]))
        let expected = try XCTUnwrap(io["choice"]).scalars.map { Int($0) }
        XCTAssertEqual(experts, expected, "top-1 routing")
        XCTAssertEqual(Set(experts).count, daemConfig.experts, "the fixture exercises every expert (kernels 3, 5, 7, 9)")
        assertClose(out, try XCTUnwrap(io["out"]), tolerance: tolerance, "unildiff DAEM block (6 samples, all 4 experts)")
        // The branches on their own: the adapter's routing weight is invisible in the block output.
        let b = try block.branches(ctx, try XCTUnwrap(io["x"]), frequencyEmbedding: try XCTUnwrap(io["freq_emb"]))
        assertClose(b.shared, try XCTUnwrap(io["shared"]), tolerance: tolerance, "unildiff DAEM shared branch")
        assertClose(b.adapter, try XCTUnwrap(io["adapter"]), tolerance: tolerance, "unildiff DAEM adapter (routed experts)")
        // One sample alone routes and computes the same as inside the batch.
        let single = try block(ctx, try XCTUnwrap(io["x"]).rows(3, 1), frequencyEmbedding: try XCTUnwrap(io["freq_emb"]).rows(3, 1))
        XCTAssertEqual(single.experts, [expected[3]])
        assertClose(single.output, try XCTUnwrap(io["out"]).rows(3, 1), tolerance: tolerance, "unildiff DAEM block (batch 1)")
        XCTAssertThrowsError(try block(ctx, try XCTUnwrap(io["x"]), frequencyEmbedding: try Tensor.zeros([6, 8])))
    }

    func testEulerScheduleMatchesDiffusers() throws {
        let ref = try fixtures.tensors(npz: "sampler.npz")
        let schedule = DiffusionSchedule.sdxl
        let ac = try XCTUnwrap(ref["alphas_cumprod"]).scalars
        XCTAssertEqual(schedule.alphasCumprod.count, 1000)
        let acError = zip(schedule.alphasCumprod, ac).map { abs($0 - $1) / $1 }.max() ?? 1
        print("golden unildiff alphas_cumprod: max rel error \(acError)")
        XCTAssertLessThanOrEqual(acError, 1e-6)
        for steps in [20, 7] {
            let s = try EulerDiscreteSampler(steps: steps)
            XCTAssertEqual(s.timesteps, try XCTUnwrap(ref["timesteps_\(steps)"]).scalars, "leading timesteps, \(steps) steps")
            let sigmas = try XCTUnwrap(ref["sigmas_\(steps)"]).scalars
            XCTAssertEqual(s.sigmas.count, sigmas.count)
            let sigmaError = zip(s.sigmas, sigmas).map { abs($0 - $1) }.max() ?? 1
            print("golden unildiff sigmas (\(steps) steps): max abs error \(sigmaError)")
            XCTAssertLessThanOrEqual(sigmaError, tolerance)
            XCTAssertEqual(s.initNoiseSigma, try XCTUnwrap(ref["init_noise_sigma_\(steps)"]).item, accuracy: tolerance)
        }
        for spacing in [TimestepSpacing.trailing, .linspace] {
            for steps in [16, 7] {
                let s = try EulerDiscreteSampler(steps: steps, spacing: spacing)
                let key = "\(spacing.rawValue)_\(steps)"
                XCTAssertEqual(s.timesteps, try XCTUnwrap(ref["timesteps_\(key)"]).scalars, key)
                let sigmaError = zip(s.sigmas, try XCTUnwrap(ref["sigmas_\(key)"]).scalars).map { abs($0 - $1) }.max() ?? 1
                print("golden unildiff sigmas (\(key)): max abs error \(sigmaError)")
                XCTAssertLessThanOrEqual(sigmaError, tolerance, key)
                XCTAssertEqual(s.initNoiseSigma, try XCTUnwrap(ref["init_noise_sigma_\(key)"]).item, accuracy: tolerance, key)
            }
        }
        XCTAssertEqual(try EulerDiscreteSampler(steps: 20).timesteps.first, 951)
        XCTAssertThrowsError(try EulerDiscreteSampler(steps: 0))
        XCTAssertThrowsError(try EulerDiscreteSampler(steps: 1001))
    }

    func testSeededStartIsReproducible() throws {
        let ctx = ComputeContext()
        let sampler = try EulerDiscreteSampler(steps: 20)
        let lq = try Tensor(shape: [1, 4, 16, 16], values: (0..<1024).map { Float($0 % 7) * 0.1 })
        let a = try sampler.startFromLowQuality(ctx, lqLatent: lq, seed: 42)
        let b = try sampler.startFromLowQuality(ctx, lqLatent: lq, seed: 42)
        let c = try sampler.startFromLowQuality(ctx, lqLatent: lq, seed: 43)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertGreaterThan(maxAbsDifference(a, c), 1)
        // x_999 = √ᾱ·lq + √(1−ᾱ)·σ_init·n: the noise part has std ≈ √(1−ᾱ₉₉₉)·σ_init.
        let ab = DiffusionSchedule.sdxl.alphasCumprod[999]
        let residual = try ctx.sub(a, try ctx.mul(lq, ab.squareRoot())).scalars
        let std = (residual.map { Double($0 * $0) }.reduce(0, +) / Double(residual.count)).squareRoot()
        let expected = Double((1 - ab).squareRoot() * sampler.initNoiseSigma)
        XCTAssertEqual(std / expected, 1, accuracy: 0.1)
    }

    func testEulerGuidedTrajectoryMatchesDiffusers() throws {
        let ctx = ComputeContext()
        let ref = try fixtures.tensors(npz: "sampler.npz")
        let sampler = try EulerDiscreteSampler(steps: 7)
        let start = try sampler.startFromLowQuality(ctx, lqLatent: try XCTUnwrap(ref["lq_latent"]), noise: try XCTUnwrap(ref["noise"]))
        assertClose(start, try XCTUnwrap(ref["start"]), tolerance: tolerance, "unildiff start (DDPM add_noise t=999)")

        // The generator's fake model: eps = A·x (+ B·cond for the conditional half) + k_i.
        let a = try XCTUnwrap(ref["fake_a"]), b = try XCTUnwrap(ref["fake_b"])
        let cond = try XCTUnwrap(ref["fake_cond"]), ks = try XCTUnwrap(ref["fake_k"]).scalars
        let guidance = try XCTUnwrap(ref["guidance"]).item
        let scaledRef = try XCTUnwrap(ref["scaled_inputs"]), epsRef = try XCTUnwrap(ref["eps"])
        let trajRef = try XCTUnwrap(ref["trajectory"])
        func channelMix(_ m: Tensor, _ x: Tensor) throws -> Tensor {
            let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3])
            return try ctx.matmul(m, try x.reshaped([c, hw])).reshaped(x.shape)
        }
        var steps: [Tensor] = []
        let out = try sampler.sample(ctx, from: start, denoise: { x, t, i in
            XCTAssertEqual(t, sampler.timesteps[i])
            assertClose(x, try scaledRef.rows(i, 1), tolerance: tolerance, "unildiff scale_model_input step \(i)")
            let mix = try channelMix(a, x)
            let uncond = try ctx.add(mix, ks[i])
            let condPred = try ctx.add(try ctx.add(mix, try channelMix(b, cond)), ks[i])
            let eps = try ctx.classifierFreeGuidance(unconditional: uncond, conditional: condPred, scale: guidance)
            assertClose(eps, try epsRef.rows(i, 1), tolerance: tolerance, "unildiff CFG eps step \(i)")
            return eps
        }, progress: { step, total in
            XCTAssertEqual(total, 7)
            steps.append(try! Tensor.zeros([step]))
        })
        XCTAssertEqual(steps.count, 7)
        assertClose(out, try trajRef.rows(6, 1), tolerance: tolerance, "unildiff Euler + CFG 5 trajectory, 7 steps")
        // Step by step as well, so a wrong early step cannot be hidden by the end point.
        var x = start
        for i in 0..<7 {
            x = try sampler.step(ctx, epsilon: try epsRef.rows(i, 1), step: i, sample: x)
            assertClose(x, try trajRef.rows(i, 1), tolerance: tolerance, "unildiff Euler step \(i)")
        }
    }
}
