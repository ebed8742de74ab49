import Foundation

/// Scaling of a forward/inverse FFT pair (torch.fft's `norm`).
public enum FFTNorm: String, Sendable, CaseIterable {
    /// Forward unscaled, inverse 1/n (torch default).
    case backward
    /// 1/√n both ways.
    case ortho
    /// Forward 1/n, inverse unscaled.
    case forward
}

/// A complex FFT of one length, any size: mixed radix over the prime factors (O(n·Σp)), in
/// double precision so that the float results match torch's pocketfft to rounding.
final class FFTPlan {
    let n: Int
    private let factors: [Int]
    private let cosT: [Double], sinT: [Double] // e^{-2πi t/n}

    init(_ n: Int) {
        self.n = n
        var f: [Int] = [], m = n, p = 2
        while m > 1 {
            if p * p > m { f.append(m); break }
            if m % p == 0 { f.append(p); m /= p } else { p += 1 }
        }
        factors = f
        // Quarter turns are exact (1, -i, -1, i): the butterflies then add or swap instead of
        // multiplying, so inf·0 makes no NaN where pocketfft (torch) gives a finite part.
        let quarter: [(Double, Double)] = [(1, 0), (0, -1), (-1, 0), (0, 1)]
        cosT = (0..<n).map { (4 * $0) % n == 0 ? quarter[4 * $0 / n].0 : cos(-2 * Double.pi * Double($0) / Double(n)) }
        sinT = (0..<n).map { (4 * $0) % n == 0 ? quarter[4 * $0 / n].1 : sin(-2 * Double.pi * Double($0) / Double(n)) }
    }

    /// In-place transform of (re, im); `inverse` uses e^{+2πi/n}. No scaling.
    func run(_ re: UnsafeMutablePointer<Double>, _ im: UnsafeMutablePointer<Double>, inverse: Bool,
             scratch: UnsafeMutablePointer<Double>) {
        guard n > 1 else { return }
        recurse(re, im, stride: 1, count: n, level: 0, inverse: inverse, outRe: scratch, outIm: scratch + n, tmp: scratch + 2 * n)
        re.update(from: scratch, count: n)
        im.update(from: scratch + n, count: n)
    }

    /// Scratch doubles `run` needs.
    var scratchCount: Int { 4 * n + 2 * (factors.max() ?? 1) }

    // Decimation in time: the `count`-point DFT of x[0], x[stride], ... into out[0..<count].
    private func recurse(_ re: UnsafePointer<Double>, _ im: UnsafePointer<Double>, stride: Int, count: Int, level: Int,
                         inverse: Bool, outRe: UnsafeMutablePointer<Double>, outIm: UnsafeMutablePointer<Double>,
                         tmp: UnsafeMutablePointer<Double>) {
        if count == 1 { outRe[0] = re[0]; outIm[0] = im[0]; return }
        let p = factors[level], m = count / p
        // Sub-transforms of the p interleaved subsequences, written to out[j·m ..< (j+1)·m].
        for j in 0..<p {
            recurse(re + j * stride, im + j * stride, stride: stride * p, count: m, level: level + 1, inverse: inverse,
                    outRe: outRe + j * m, outIm: outIm + j * m, tmp: tmp)
        }
        // Butterflies: X[k + m·q] = Σ_j W_count^{j(k + m·q)} Y_j[k].
        let step = n / count // W_count^e = table[e·step mod n]
        let sign: Double = inverse ? -1 : 1
        let yr = tmp, yi = tmp + p
        for k in 0..<m {
            for j in 0..<p { yr[j] = outRe[j * m + k]; yi[j] = outIm[j * m + k] }
            for q in 0..<p {
                var sr = 0.0, si = 0.0
                let e = k + m * q
                for j in 0..<p {
                    let t = (j * e * step) % n
                    let c = cosT[t], s = sign * sinT[t]
                    if s == 0 {
                        sr += yr[j] * c; si += yi[j] * c
                    } else if c == 0 {
                        sr -= yi[j] * s; si += yr[j] * s
                    } else {
                        sr += yr[j] * c - yi[j] * s
                        si += yr[j] * s + yi[j] * c
                    }
                }
                outRe[k + m * q] = sr
                outIm[k + m * q] = si
            }
        }
    }
}

extension ComputeContext {
    /// Pooled scratch viewed as doubles for the duration of `body`.
    private func withDoubleScratch(_ count: Int, _ body: (UnsafeMutablePointer<Double>) -> Void) {
        withScratch(2 * count) { p in
            p.withMemoryRebound(to: Double.self, capacity: count) { body($0) }
        }
    }

    /// torch.fft.rfft2 over the last two dimensions of a real tensor [..., H, W].
    /// Returns [..., H, W/2+1, 2] with (real, imaginary) in the last dimension (torch.view_as_real).
    public func rfft2(_ x: Tensor, norm: FFTNorm = .backward) throws -> Tensor {
        let op = "rfft2"
        try require(x.rank >= 2, op, "expected at least 2 dimensions, got \(x.shape)")
        let (h, w) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
        try require(h >= 1 && w >= 1, op, "invalid number of data points (\(h)x\(w)) specified")
        let wf = w / 2 + 1
        let planes = x.count / (h * w)
        let out = try empty(Array(x.shape.dropLast(2)) + [h, wf, 2])
        let scale: Double = norm == .backward ? 1 : (norm == .ortho ? 1 / Double(h * w).squareRoot() : 1 / Double(h * w))
        let rowPlan = FFTPlan(w), colPlan = FFTPlan(h)
        let src = x.pointer, dst = out.mutablePointer
        let per = 2 * h * wf + 2 * max(w, h) + max(rowPlan.scratchCount, colPlan.scratchCount)
        withDoubleScratch(per * threads) { buf in
            parallelChunks(planes) { worker, range in
                let re = buf + worker * per, im = re + h * wf
                let lr = im + h * wf, li = lr + max(w, h), sc = li + max(w, h)
                for plane in range {
                    let sp = src + plane * h * w
                    for y in 0..<h {
                        for i in 0..<w { lr[i] = Double(sp[y * w + i]); li[i] = 0 }
                        rowPlan.run(lr, li, inverse: false, scratch: sc)
                        for i in 0..<wf { re[y * wf + i] = lr[i]; im[y * wf + i] = li[i] }
                    }
                    for col in 0..<wf {
                        for y in 0..<h { lr[y] = re[y * wf + col]; li[y] = im[y * wf + col] }
                        colPlan.run(lr, li, inverse: false, scratch: sc)
                        for y in 0..<h { re[y * wf + col] = lr[y]; im[y * wf + col] = li[y] }
                    }
                    let dp = dst + plane * h * wf * 2
                    for i in 0..<(h * wf) { dp[2 * i] = Float(re[i] * scale); dp[2 * i + 1] = Float(im[i] * scale) }
                }
            }
        }
        return out
    }

    /// torch.fft.irfft2(X, s=(h, w)) for X = [..., H', W', 2] (real, imaginary): the last complex
    /// dimension is cut or zero-filled to w/2+1 bins and the other to h rows, then inverted; the
    /// imaginary parts of the self-conjugate bins are ignored, as a c2r transform does.
    public func irfft2(_ x: Tensor, size: Size2, norm: FFTNorm = .backward) throws -> Tensor {
        let op = "irfft2"
        try require(x.rank >= 3 && x.shape[x.rank - 1] == 2, op, "expected [..., H, W, 2] (real, imaginary), got \(x.shape)")
        let (h, w) = (size.h, size.w)
        try require(h >= 1 && w >= 1, op, "invalid number of data points (\(h)x\(w)) specified")
        let (hin, win) = (x.shape[x.rank - 3], x.shape[x.rank - 2])
        let wf = w / 2 + 1
        let planes = x.count / max(hin * win * 2, 1)
        let out = try empty(Array(x.shape.dropLast(3)) + [h, w])
        let scale: Double = norm == .forward ? 1 : (norm == .ortho ? 1 / Double(h * w).squareRoot() : 1 / Double(h * w))
        let rowPlan = FFTPlan(w), colPlan = FFTPlan(h)
        let src = x.pointer, dst = out.mutablePointer
        let per = 2 * h * wf + 2 * max(w, h) + max(rowPlan.scratchCount, colPlan.scratchCount)
        withDoubleScratch(per * threads) { buf in
            parallelChunks(planes) { worker, range in
                let re = buf + worker * per, im = re + h * wf
                let lr = im + h * wf, li = lr + max(w, h), sc = li + max(w, h)
                for plane in range {
                    let sp = src + plane * hin * win * 2
                    for y in 0..<h {
                        for i in 0..<wf {
                            let inside = y < hin && i < win
                            re[y * wf + i] = inside ? Double(sp[(y * win + i) * 2]) : 0
                            im[y * wf + i] = inside ? Double(sp[(y * win + i) * 2 + 1]) : 0
                        }
                    }
                    for col in 0..<wf {
                        for y in 0..<h { lr[y] = re[y * wf + col]; li[y] = im[y * wf + col] }
                        colPlan.run(lr, li, inverse: true, scratch: sc)
                        for y in 0..<h { re[y * wf + col] = lr[y]; im[y * wf + col] = li[y] }
                    }
                    let dp = dst + plane * h * w
                    for y in 0..<h {
                        // Hermitian extension of the row; DC (and Nyquist for even w) are taken as real.
                        for i in 0..<wf { lr[i] = re[y * wf + i]; li[i] = im[y * wf + i] }
                        li[0] = 0
                        if w % 2 == 0 { li[w / 2] = 0 }
                        for i in wf..<w { lr[i] = lr[w - i]; li[i] = -li[w - i] }
                        rowPlan.run(lr, li, inverse: true, scratch: sc)
                        for i in 0..<w { dp[y * w + i] = Float(lr[i] * scale) }
                    }
                }
            }
        }
        return out
    }
}
