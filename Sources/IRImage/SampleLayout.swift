import CIRImage

/// Between the codecs' interleaved integer samples and `RasterImage`'s float planes.
enum SampleLayout {
    /// Planes in [0, 1] from a decoded image, turned upright by the EXIF `orientation` on the way
    /// (the same pixel moves as PIL's `exif_transpose`). Samples are divided (not multiplied by
    /// 1/255): the same float numpy's `x / 255.` gives, bit for bit.
    static func planes(_ d: irimage_decoded, orientation: Int, name: String?) throws -> RasterImage {
        let (w, h, c, depth) = (Int(d.width), Int(d.height), Int(d.channels), Int(d.bit_depth))
        guard w > 0, h > 0, (1...4).contains(c), depth == 8 || depth == 16, let raw = d.pixels, d.size == w * h * c * depth / 8 else {
            throw ImageIOError(file: name, reason: "the decoder returned an unexpected layout (\(w)x\(h), \(c) channels of \(depth) bit)")
        }
        let n = w * h
        let colorChannels = c >= 3 ? 3 : 1
        let hasAlpha = c == 2 || c == 4
        // Destination index of source pixel (x, y) is base(y) + x * step (orientations 5-8 swap the sides).
        let swapped = orientation >= 5
        let (ow, oh) = swapped ? (h, w) : (w, h)
        func base(_ y: Int) -> Int {
            switch orientation {
            case 2: y * w + w - 1
            case 3: (h - 1 - y) * w + w - 1
            case 4: (h - 1 - y) * w
            case 5: y
            case 6: h - 1 - y
            case 7: (h - 1 - y) + (w - 1) * h
            case 8: y + (w - 1) * h
            default: y * w
            }
        }
        let step: Int = switch orientation {
        case 2, 3: -1
        case 5, 6: h
        case 7, 8: -h
        default: 1
        }
        var color = [Float](repeating: 0, count: n * colorChannels)
        var alpha: [Float]? = hasAlpha ? [Float](repeating: 0, count: n) : nil
        let maxValue: Float = depth == 16 ? 65535 : 255
        color.withUnsafeMutableBufferPointer { colorPlanes in
            func fill(_ sample: (Int) -> Float) {
                for y in 0..<h {
                    let b = base(y)
                    for x in 0..<w {
                        let dst = b + x * step, src = (y * w + x) * c
                        for ch in 0..<colorChannels { colorPlanes[ch * n + dst] = sample(src + ch) / maxValue }
                        if hasAlpha { alpha![dst] = sample(src + colorChannels) / maxValue }
                    }
                }
            }
            if depth == 16 {
                let s = UnsafeRawPointer(raw)
                fill { Float(s.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            } else {
                let s = UnsafePointer<UInt8>(raw)
                fill { Float(s[$0]) }
            }
        }
        return try RasterImage(width: ow, height: oh, colorChannels: colorChannels, color: color, alpha: alpha, bitDepth: depth)
    }

    /// Interleaved integer samples of `image` (host order for 16 bit): RGB (gray repeated) when
    /// `rgb`, else the image's own colour planes; then alpha when `alpha`.
    static func interleaved(_ image: RasterImage, rgb: Bool, alpha: Bool, bitDepth: Int) -> [UInt8] {
        let n = image.pixelCount
        let colors = rgb ? 3 : image.colorChannels
        let c = colors + (alpha ? 1 : 0)
        let maxValue: Float = bitDepth == 16 ? 65535 : 255
        var out = [UInt8](repeating: 0, count: n * c * bitDepth / 8)
        out.withUnsafeMutableBytes { dst in
            func store(_ plane: UnsafeBufferPointer<Float>, channel ch: Int) {
                if bitDepth == 16 {
                    for i in 0..<n { dst.storeBytes(of: UInt16(quantize(plane[i], maxValue)), toByteOffset: (i * c + ch) * 2, as: UInt16.self) }
                } else {
                    for i in 0..<n { dst[i * c + ch] = UInt8(quantize(plane[i], maxValue)) }
                }
            }
            image.color.withUnsafeBufferPointer { color in
                for ch in 0..<colors {
                    let source = image.colorChannels == 1 ? 0 : ch
                    store(UnsafeBufferPointer(rebasing: color[source * n ..< (source + 1) * n]), channel: ch)
                }
            }
            if alpha, let a = image.alpha { a.withUnsafeBufferPointer { store($0, channel: colors) } }
        }
        return out
    }

    /// `v` in [0, 1] as an integer sample, rounding half to even (numpy's round(), as BasicSR's
    /// tensor2img); NaN is 0 and +inf the top value.
    @inline(__always) static func quantize(_ v: Float, _ maxValue: Float) -> Int {
        guard v.isFinite else { return v == .infinity ? Int(maxValue) : 0 }
        return Int((min(max(v, 0), 1) * maxValue).rounded(.toNearestOrEven))
    }
}
