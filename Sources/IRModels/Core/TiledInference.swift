import IRRuntime

/// How an image is cut into tiles: square tiles of `tile` pixels whose neighbours overlap by at
/// least `overlap` pixels. The last tile of a row or column is moved back to end at the image
/// border, so every tile has the same size (buffers are reused) unless the image is smaller.
public struct TilePlan: Sendable, Equatable {
    public let tile: Int
    public let overlap: Int

    public init(tile: Int, overlap: Int) throws {
        guard tile >= 1 else { throw ModelError("--tile must be a positive number of pixels, got \(tile)") }
        guard overlap >= 0 && overlap < tile else {
            throw ModelError("--overlap must be at least 0 and smaller than the tile (\(tile)), got \(overlap)")
        }
        self.tile = tile
        self.overlap = overlap
    }

    /// Tile start offsets along an axis of `length` pixels (tiles are min(tile, length) long).
    public func starts(_ length: Int) -> [Int] {
        guard length > tile else { return [0] }
        let step = tile - overlap
        var out = [Int]()
        var s = 0
        while s + tile < length {
            out.append(s)
            s += step
        }
        out.append(length - tile)
        return out
    }

    /// Blend weight of pixel `i` of a tile starting at `start` on an axis of `length`: a linear
    /// ramp over `overlap` pixels on each side that has a neighbour, 1 elsewhere.
    func weight(_ i: Int, start: Int, size: Int, length: Int) -> Float {
        var w: Float = 1
        let ramp = Float(overlap + 1)
        if start > 0 { w = min(w, Float(i + 1) / ramp) }
        if start + size < length { w = min(w, Float(size - i) / ramp) }
        return w
    }
}

/// Runs an image model tile by tile and blends the overlaps, so the network's activations are
/// bounded by the tile size whatever the image size. An image that fits in one tile runs whole
/// (the same answer as without tiling); otherwise the result approximates the whole-image one as
/// the model's `tiling` says.
/// Sums tiles into the whole output with each tile's separable blend weights, then divides by the
/// summed weights: the overlap-blending both `TiledInference` and the VAE's tiled encode/decode use.
struct TileBlend {
    private var out: Tensor?
    private let weightSum: Tensor
    private let batch: Int, height: Int, width: Int

    init(batch: Int, height: Int, width: Int) throws {
        (self.batch, self.height, self.width) = (batch, height, width)
        weightSum = try Tensor.zeros([height, width])
    }

    /// Adds tile `y` [batch, C, rows.count, cols.count] at (top, left), weighted rows[i] * cols[j].
    mutating func add(_ y: Tensor, top: Int, left: Int, rows: [Float], cols: [Float]) throws {
        let (th, tw) = (rows.count, cols.count)
        guard y.rank == 4, y.shape[0] == batch, y.shape[2] == th, y.shape[3] == tw,
              top >= 0, left >= 0, top + th <= height, left + tw <= width else {
            throw ModelError("a tile of shape \(y.shape) does not fit at (\(top), \(left)) in \(batch)x\(height)x\(width)")
        }
        let c = y.shape[1]
        if let out, out.shape[1] != c { throw ModelError("tiles with \(out.shape[1]) and \(c) channels cannot be blended") }
        if out == nil { out = try Tensor.zeros([batch, c, height, width]) }
        let dst = out!.mutablePointer, src = y.pointer, ws = weightSum.mutablePointer
        for plane in 0..<(batch * c) {
            for i in 0..<th {
                let d = dst + (plane * height + top + i) * width + left, s = src + (plane * th + i) * tw
                let ry = rows[i]
                for j in 0..<tw { d[j] += ry * cols[j] * s[j] }
            }
        }
        for i in 0..<th {
            let d = ws + (top + i) * width + left
            for j in 0..<tw { d[j] += rows[i] * cols[j] }
        }
    }

    /// The blended whole (every pixel is covered by at least one tile with a positive weight).
    func finish() throws -> Tensor {
        guard let result = out else { throw ModelError("tiled inference produced no tiles") }
        let dst = result.mutablePointer, ws = weightSum.pointer
        let plane = height * width
        for p in 0..<(batch * result.shape[1]) {
            let d = dst + p * plane
            for i in 0..<plane { d[i] /= ws[i] }
        }
        return result
    }
}

public enum TiledInference {
    public static func run(_ model: Model, image: Tensor, aux: [String: Tensor] = [:], plan: TilePlan,
                           progress: ProgressHandler? = nil) throws -> Tensor {
        switch model.tiling {
        case .unsupported(let why): throw ModelError("\(model.family) cannot run in tiles: \(why)")
        case .exact, .approximate: break
        }
        guard model.outputKind == .image else { throw ModelError("\(model.family) does not return an image, so it cannot run in tiles") }
        guard image.rank == 4 else { throw ModelError("tiled inference expects an image batch [B, C, H, W], got \(image.shape)") }
        let (h, w) = (image.shape[2], image.shape[3])
        let th = min(plan.tile, h), tw = min(plan.tile, w)
        guard th >= model.minimumSide && tw >= model.minimumSide else {
            throw ModelError("tiles of \(tw)x\(th) pixels are smaller than the \(model.minimumSide)-pixel side \(model.family) needs; use a larger --tile")
        }
        if plan.starts(h).count * plan.starts(w).count == 1 {
            let y = try model.run(image, aux: aux, progress: nil)
            progress?(1, 1)
            return y
        }

        let runTile = try model.tileRunner(whole: image, aux: aux)
        // An upscaler's tiles come back `scale` times larger and are blended at the output scale.
        return try blend(image, plan: plan, scaleUp: model.scale, context: model.context, what: model.family, progress: progress, runTile)
    }

    /// Runs `body` on overlapping tiles of `x` [B, C, H, W] and blends what it returns, which is
    /// `scaleUp / scaleDown` times the tile's size (1 for image restorers; 8 or 1/8 for a VAE's
    /// decoder and encoder), with linear ramps over the overlap scaled the same way. An input that
    /// fits one tile runs whole. `what` names the network in messages.
    public static func blend(_ x: Tensor, plan: TilePlan, scaleUp: Int = 1, scaleDown: Int = 1, context ctx: ComputeContext,
                             what: String, progress: ProgressHandler? = nil, _ body: (Tensor) throws -> Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError("\(what): a tiled run expects [B, C, H, W], got \(x.shape)") }
        let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let rows = plan.starts(h), cols = plan.starts(w)
        if rows.count * cols.count == 1 {
            let y = try body(x)
            progress?(1, 1)
            return y
        }
        let th = min(plan.tile, h), tw = min(plan.tile, w)
        let (H, W) = (h * scaleUp / scaleDown, w * scaleUp / scaleDown)
        let (oth, otw) = (th * scaleUp / scaleDown, tw * scaleUp / scaleDown)
        // The blend ramps in output pixels: the overlap scaled like the image.
        let outPlan = try TilePlan(tile: max(oth, otw), overlap: plan.overlap * scaleUp / scaleDown)
        var blend = try TileBlend(batch: b, height: H, width: W)
        var done = 0
        for y0 in rows {
            let oy = y0 * scaleUp / scaleDown
            let rw = (0..<oth).map { outPlan.weight($0, start: oy, size: oth, length: H) }
            for x0 in cols {
                let ox = x0 * scaleUp / scaleDown
                let cw = (0..<otw).map { outPlan.weight($0, start: ox, size: otw, length: W) }
                let tile = try ctx.crop(x, top: y0, left: x0, height: th, width: tw)
                let y = try body(tile)
                guard y.rank == 4, y.shape[0] == b, y.shape[2] == oth, y.shape[3] == otw else {
                    throw ModelError("\(what) returned \(y.shape) for a tile \(tile.shape)")
                }
                try blend.add(y, top: oy, left: ox, rows: rw, cols: cw)
                done += 1
                progress?(done, rows.count * cols.count)
            }
        }
        return try blend.finish()
    }
}
