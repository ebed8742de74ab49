import IRKernels

/// The one matrix-multiply engine under conv2d, linear, matmul and attention: splits C over the
/// context's threads and hands each part to the packed SIMD kernel (IRKernels/gemm.c).
extension ComputeContext {
    /// Runs `args` over all of C (M x N, depth K), in parallel.
    func gemm(_ args: irk_gemm_args, M: Int, N: Int, K: Int) {
        guard M > 0, N > 0 else { return }
        let mr = Int(irk_sgemm_mr()), nr = Int(irk_sgemm_nr())
        let wsFloats = Int(irk_sgemm_workspace_floats())
        let flops = Double(M) * Double(N) * Double(max(K, 1))
        let mTiles = (M + mr - 1) / mr, nTiles = (N + nr - 1) / nr
        // Below ~64k multiply-adds a thread hand-off costs more than it saves.
        let workers = flops < 65_536 ? 1 : min(threads, max(mTiles, nTiles))
        if workers <= 1 {
            withScratch(wsFloats) { ws in
                var a = args
                irk_sgemm(&a, M, N, K, 0, M, 0, N, ws)
            }
            return
        }
        // Each worker packs the operand that is not split in full, so split to duplicate the
        // cheaper packing. A convolution's B is read in place (split its pixels); otherwise compare
        // the operand sizes, counting a transposing pack (A with rows along K; Bᵀ) three times a copy.
        let splitN: Bool
        if args.b_koff != nil || mTiles < workers * 2 {
            splitN = nTiles >= workers || mTiles < workers
        } else if nTiles < workers * 2 {
            splitN = false
        } else {
            let aCost = Double(M) * Double(K) * (args.a_cs == 1 ? 3 : 1)
            let bCost = Double(K) * Double(N) * (args.b_col_stride == 1 ? 1 : 3)
            splitN = aCost <= bCost
        }
        withScratch(wsFloats * workers) { ws in
            parallelFor(workers) { range in
                for w in range {
                    var a = args
                    let scratch = ws + w * wsFloats
                    if splitN {
                        let lo = nTiles * w / workers * nr, hi = min(N, nTiles * (w + 1) / workers * nr)
                        irk_sgemm(&a, M, N, K, 0, M, lo, hi, scratch)
                    } else {
                        let lo = mTiles * w / workers * mr, hi = min(M, mTiles * (w + 1) / workers * mr)
                        irk_sgemm(&a, M, N, K, lo, hi, 0, N, scratch)
                    }
                }
            }
        }
    }

    /// Single-threaded GEMM (for callers that already parallelise over a batch).
    func gemmSerial(_ args: irk_gemm_args, M: Int, N: Int, K: Int, workspace: UnsafeMutablePointer<Float>) {
        var a = args
        irk_sgemm(&a, M, N, K, 0, M, 0, N, workspace)
    }

    static var gemmWorkspaceFloats: Int { Int(irk_sgemm_workspace_floats()) }
}

/// Builders for the common operand layouts.
extension irk_gemm_args {
    /// C[M][N] = A · B with A row-major [M][K] (or its transpose) and B row-major [K][N] (or its transpose).
    static func matrices(a: UnsafePointer<Float>, transposeA: Bool, b: UnsafePointer<Float>, transposeB: Bool,
                         c: UnsafeMutablePointer<Float>, M: Int, N: Int, K: Int,
                         accumulate: Bool = false) -> irk_gemm_args {
        var g = irk_gemm_args()
        g.a = a
        if transposeA { g.a_rs = 1; g.a_cs = M } else { g.a_rs = K; g.a_cs = 1 }
        g.b = b
        g.b_koff = nil
        if transposeB {
            g.b_rs = 1; g.b_ncols = N; g.b_row_stride = 0; g.b_col_stride = K
        } else {
            g.b_rs = N; g.b_ncols = N; g.b_row_stride = 0; g.b_col_stride = 1
        }
        g.c = c
        g.ldc = N
        g.bias = nil
        g.bias_col = nil
        g.accumulate = accumulate ? 1 : 0
        return g
    }
}
