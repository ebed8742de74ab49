import Foundation
import IRRuntime

/// UniLDiff's tiled sampling, as upstream's pipeline does it (FaithDiff's `LocalAttention.grids`
/// and `grids_inverse`, "TLC"): the latent is cut into overlapping tiles of `tile` latent pixels
/// (128 upstream: 1024 image pixels, overlap 0.5); every Euler step runs on each tile with its
/// own SDXL time ids, and the stepped tiles are blended back with a Gaussian weight per tile
/// before the next step cuts them again. Memory then follows the tile, not the image.
///
/// Upstream's details kept on purpose: the step between tile origins is ⌈tile · overlap⌉ (the
/// whole tile when one tile spans the axis), the last tile is moved back to end at the edge, and
/// the Gaussian's vertical centre is `height / 2` while the horizontal one is `(width − 1) / 2`.
/// The weights are float64 (numpy) and the sums float32, as upstream's in-place adds leave them.
public struct LatentTileGrid: Sendable, Equatable {
    /// Tile height and width in latent pixels (the nominal tile, clamped to the latent).
    public let tileHeight: Int
    public let tileWidth: Int
    /// Origins (top, left) in upstream's order: rows, then columns within a row.
    public let origins: [(top: Int, left: Int)]
    /// The tile's blend weights, [tileHeight · tileWidth] row-major.
    public let weights: [Double]

    public init(height: Int, width: Int, tile: Int, overlap: Double = 0.5) throws {
        guard tile >= 1, height >= 1, width >= 1, overlap > 0, overlap <= 1 else {
            throw ModelError("unildiff latent tiles: tile \(tile) and overlap \(overlap) must be positive (overlap at most 1), the latent \(height)x\(width) non-empty")
        }
        tileHeight = min(tile, height)
        tileWidth = min(tile, width)
        let rows = Self.starts(length: height, tile: tileHeight, overlap: overlap)
        let cols = Self.starts(length: width, tile: tileWidth, overlap: overlap)
        origins = rows.flatMap { r in cols.map { (top: r, left: $0) } }
        let y = Self.gaussian(count: tileHeight, midpoint: Double(tileHeight) / 2)
        let x = Self.gaussian(count: tileWidth, midpoint: Double(tileWidth - 1) / 2)
        weights = y.flatMap { wy in x.map { wy * $0 } }
    }

    /// One tile covers the whole latent: sampling runs untiled.
    public var isSingleTile: Bool { origins.count == 1 }

    /// Tile origins along an axis of `length` (upstream's `grids` loop).
    static func starts(length n: Int, tile k: Int, overlap: Double) -> [Int] {
        let count = (n - 1) / k + 1
        let step = count == 1 ? k : Int((Double(k) * overlap).rounded(.up))
        var out = [Int](), i = 0
        while i < n {
            if i + k >= n { out.append(n - k); break }
            out.append(i)
            i += step
        }
        return out
    }

    /// exp(−(i − m)² / n² / (2 · 0.01)) / √(2π · 0.01) for i in 0..<n.
    static func gaussian(count n: Int, midpoint m: Double) -> [Double] {
        let variance = 0.01, nn = Double(n * n)
        return (0..<n).map { i in
            let d = Double(i) - m
            return exp(-d * d / nn / (2 * variance)) / (2 * Double.pi * variance).squareRoot()
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.tileHeight == b.tileHeight && a.tileWidth == b.tileWidth && a.weights == b.weights
            && a.origins.map { [$0.top, $0.left] } == b.origins.map { [$0.top, $0.left] }
    }

    /// Sums tiles weighted by the Gaussian and divides by the summed weights (`grids_inverse`).
    struct Blend {
        let grid: LatentTileGrid
        let sum: Tensor
        let weightSum: Tensor

        init(grid: LatentTileGrid, shape: [Int]) throws {
            guard shape.count == 4, shape[0] == 1 else { throw ModelError("unildiff latent tiles: one latent [1, C, h, w] at a time, got \(shape)") }
            self.grid = grid
            sum = try Tensor.zeros(shape)
            weightSum = try Tensor.zeros(shape)
        }

        /// Adds `tile` [1, C, tileHeight, tileWidth] at `origin`: sum += tile · w (in float64, kept as float32).
        func add(_ tile: Tensor, at origin: (top: Int, left: Int)) throws {
            let (th, tw) = (grid.tileHeight, grid.tileWidth)
            let (c, h, w) = (sum.shape[1], sum.shape[2], sum.shape[3])
            guard tile.shape == [1, c, th, tw] else {
                throw ModelError("unildiff latent tiles: a tile of shape \(tile.shape), expected \([1, c, th, tw])")
            }
            let s = sum.mutablePointer, ws = weightSum.mutablePointer, t = tile.pointer
            for ch in 0..<c {
                for i in 0..<th {
                    let row = (ch * h + origin.top + i) * w + origin.left
                    for j in 0..<tw {
                        let wt = grid.weights[i * tw + j]
                        s[row + j] = Float(Double(s[row + j]) + Double(t[(ch * th + i) * tw + j]) * wt)
                        ws[row + j] = Float(Double(ws[row + j]) + wt)
                    }
                }
            }
        }

        func finish(_ ctx: ComputeContext) throws -> Tensor { try ctx.div(sum, weightSum) }
    }
}
