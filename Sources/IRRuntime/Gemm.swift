import IRKernels

/// The one matrix-multiply engine under conv2d, linear, matmul and attention: splits C over the
/// context's threads and hands each part to the packed SIMD kernel (IRKernels/gemm.c).
extension ComputeContext {
    /// Runs `args` over all of C (M x N, depth K), in parallel.
    func gemm(_ args: irk_gemm_args, M: Int, N: Int, K: Int) {
        guard M > 0, N > 0 else { return }
        let mr = Int(irk_sgemm_mr(N)), nr = Int(irk_sgemm_nr(N))
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
        // Split the pixels/columns among workers whenever there are enough of them: A (the
        // weights) is then packed once, by all workers together, into a shared buffer, so no
        // operand is packed twice. Few columns (attention with short rows): split the rows instead.
        let splitN = nTiles >= workers
        let shareA = splitN && Double(M) * Double(K) >= 16_384
        let aFloats = shareA ? Int(irk_sgemm_packed_a_floats(M, N, K)) : 0
        withScratch(wsFloats * workers + aFloats) { ws in
            var shared = args
            if shareA {
                let packed = ws + wsFloats * workers
                let blocks = Int(irk_sgemm_packed_a_blocks(M, N, K))
                parallelFor(blocks) { r in
                    var a = args
                    irk_sgemm_pack_a(&a, M, N, K, r.lowerBound, r.upperBound, packed)
                }
                shared.packed_a = UnsafePointer(packed)
            }
            let run = shared
            parallelFor(workers) { range in
                for w in range {
                    var a = run
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
