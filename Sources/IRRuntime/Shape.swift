extension ComputeContext {
    /// torch.cat along `dim`.
    public func concat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        let op = "concat"
        try require(!tensors.isEmpty, op, "nothing to concatenate")
        let first = tensors[0]
        let d = try normalizeDim(dim, rank: first.rank, op: op)
        var total = 0
        for (i, t) in tensors.enumerated() {
            try require(t.rank == first.rank, op, "tensor \(i) has rank \(t.rank), expected \(first.rank)")
            for k in 0..<t.rank where k != d {
                try require(t.shape[k] == first.shape[k], op,
                            "tensor \(i) has shape \(t.shape), which differs from \(first.shape) outside dimension \(d)")
            }
            total = try SizeMath(op).add(total, t.shape[d])
        }
        var shape = first.shape
        shape[d] = total
        let out = try empty(shape)
        let outer = first.shape[..<d].reduce(1, *)
        let inner = first.shape[(d + 1)...].reduce(1, *)
        let dst = out.mutablePointer
        var at = 0
        for t in tensors {
            let chunk = t.shape[d] * inner
            let src = t.pointer, offset = at
            parallelFor(outer, grain: max(1, 65536 / max(chunk, 1))) { r in
                for o in r { (dst + o * total * inner + offset).update(from: src + o * chunk, count: chunk) }
            }
            at += chunk
        }
        return out
    }

    /// torch.split with explicit sizes along `dim` (copies; for dim 0 prefer `Tensor.rows`).
    public func split(_ x: Tensor, sizes: [Int], dim: Int) throws -> [Tensor] {
        let op = "split"
        let d = try normalizeDim(dim, rank: x.rank, op: op)
        try require(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == x.shape[d], op,
                    "sizes \(sizes) do not add up to \(x.shape[d]) (dimension \(dim) of \(x.shape))")
        var start = 0
        var parts: [Tensor] = []
        for s in sizes {
            parts.append(try narrow(x, dim: d, start: start, length: s))
            start += s
        }
        return parts
    }

    /// torch.chunk into `count` equal parts (the dimension must divide evenly, as in every use here).
    public func chunk(_ x: Tensor, _ count: Int, dim: Int) throws -> [Tensor] {
        let d = try normalizeDim(dim, rank: x.rank, op: "chunk")
        try require(count >= 1 && x.shape[d] % count == 0, "chunk", "dimension \(dim) of \(x.shape) does not split into \(count) equal parts")
        return try split(x, sizes: [Int](repeating: x.shape[d] / count, count: count), dim: d)
    }

    /// Elements `start ..< start+length` along `dim` (x.narrow / slicing). A view when that is
    /// contiguous (dim 0, or all leading dimensions of size 1), otherwise a copy.
    public func narrow(_ x: Tensor, dim: Int, start: Int, length: Int) throws -> Tensor {
        let op = "narrow"
        let d = try normalizeDim(dim, rank: x.rank, op: op)
        try require(start >= 0 && length >= 0 && start + length <= x.shape[d], op,
                    "range \(start)..<\(start + length) out of bounds for dimension \(d) of \(x.shape)")
        var shape = x.shape
        shape[d] = length
        let inner = x.shape[(d + 1)...].reduce(1, *)
        let outer = x.shape[..<d].reduce(1, *)
        if outer == 1 {
            return Tensor(shape: shape, storage: x.storage, offset: x.offset + start * inner)
        }
        let out = try empty(shape)
        let src = x.pointer, dst = out.mutablePointer
        let chunk = length * inner, stride = x.shape[d] * inner
        parallelFor(outer, grain: max(1, 65536 / max(chunk, 1))) { r in
            for o in r { (dst + o * chunk).update(from: src + o * stride + start * inner, count: chunk) }
        }
        return out
    }

    /// Crops the last two dimensions to rows [top, top+height) and columns [left, left+width).
    public func crop(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) throws -> Tensor {
        try require(x.rank >= 2, "crop", "expected at least 2 dimensions, got \(x.shape)")
        let rows = try narrow(x, dim: -2, start: top, length: height)
        return try narrow(rows, dim: -1, start: left, length: width)
    }

    /// torch.permute (a copy in the new order).
    public func permute(_ x: Tensor, _ dims: [Int]) throws -> Tensor {
        let op = "permute"
        try require(dims.count == x.rank, op, "\(dims.count) dimensions given for a tensor of rank \(x.rank)")
        let ds = try dims.map { try normalizeDim($0, rank: x.rank, op: op) }
        try require(Set(ds).count == ds.count, op, "repeated dimension in \(dims)")
        let shape = ds.map { x.shape[$0] }
        let out = try empty(shape)
        guard out.count > 0 else { return out }
        if ds == Array(0..<x.rank) {
            out.mutablePointer.update(from: x.pointer, count: x.count)
            return out
        }
        var inStrides = [Int](repeating: 1, count: x.rank)
        for i in stride(from: x.rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * x.shape[i + 1] }
        let strides = ds.map { inStrides[$0] }
        let r = shape.count
        let last = shape[r - 1], lastStride = strides[r - 1]
        let rows = out.count / last
        let src = x.pointer, dst = out.mutablePointer
        shape.withUnsafeBufferPointer { sh in strides.withUnsafeBufferPointer { st in
            parallelFor(rows, grain: max(1, 16384 / max(last, 1))) { range in
                for row in range {
                    var rem = row, off = 0
                    for i in stride(from: r - 2, through: 0, by: -1) {
                        off += (rem % sh[i]) * st[i]
                        rem /= sh[i]
                    }
                    let dr = dst + row * last, sr = src + off
                    if lastStride == 1 { dr.update(from: sr, count: last) }
                    else { for j in 0..<last { dr[j] = sr[j * lastStride] } }
                }
            }
        } }
        return out
    }

    /// Swaps two dimensions (torch.transpose), as a copy.
    public func transpose(_ x: Tensor, _ d0: Int, _ d1: Int) throws -> Tensor {
        var dims = Array(0..<x.rank)
        let a = try normalizeDim(d0, rank: x.rank, op: "transpose"), b = try normalizeDim(d1, rank: x.rank, op: "transpose")
        dims.swapAt(a, b)
        return try permute(x, dims)
    }

    /// nn.PixelShuffle(r): [N, C·r², H, W] → [N, C, H·r, W·r], out[c, h·r+i, w·r+j] = in[c·r²+i·r+j, h, w].
    public func pixelShuffle(_ x: Tensor, _ r: Int) throws -> Tensor {
        let op = "pixelShuffle"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        try require(r >= 1, op, "upscale factor must be positive, got \(r)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let r2 = try SizeMath(op).mul(r, r)
        try require(c % r2 == 0, op, "channels \(c) not divisible by the square of the upscale factor \(r)")
        let oc = c / r2
        _ = try SizeMath(op).mul(try SizeMath(op).mul(h, r), try SizeMath(op).mul(w, r))
        let view = try x.reshaped([n, oc, r, r, h, w])
        let y = try permute(view, [0, 1, 4, 2, 5, 3])
        return try y.reshaped([n, oc, h * r, w * r])
    }

    /// nn.PixelUnshuffle(r): [N, C, H·r, W·r] → [N, C·r², H, W], the inverse of `pixelShuffle`.
    public func pixelUnshuffle(_ x: Tensor, _ r: Int) throws -> Tensor {
        let op = "pixelUnshuffle"
        try require(x.rank == 4, op, "expected [N, C, H, W], got \(x.shape)")
        try require(r >= 1, op, "downscale factor must be positive, got \(r)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        try require(h % r == 0 && w % r == 0, op, "size \(h)x\(w) not divisible by the downscale factor \(r)")
        let view = try x.reshaped([n, c, h / r, r, w / r, r])
        let y = try permute(view, [0, 1, 3, 5, 2, 4])
        return try y.reshaped([n, c * r * r, h / r, w / r])
    }

    /// torch.repeat_interleave(x, repeats, dim).
    public func repeatInterleave(_ x: Tensor, _ repeats: Int, dim: Int) throws -> Tensor {
        let d = try normalizeDim(dim, rank: x.rank, op: "repeatInterleave")
        try require(repeats >= 0, "repeatInterleave", "repeats must be non-negative")
        var shape = x.shape
        shape[d] = try SizeMath("repeatInterleave").mul(shape[d], repeats)
        let out = try empty(shape)
        let inner = x.shape[(d + 1)...].reduce(1, *)
        let rows = x.count / max(inner, 1)
        let src = x.pointer, dst = out.mutablePointer
        parallelFor(rows, grain: max(1, 16384 / max(inner * repeats, 1))) { r in
            for row in r {
                for k in 0..<repeats { (dst + (row * repeats + k) * inner).update(from: src + row * inner, count: inner) }
            }
        }
        return out
    }
}
