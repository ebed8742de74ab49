import IRImage
import IRModels
import IRRuntime

/// Between decoded images and the batches networks take and return.
public enum ImageTensors {
    /// What a network takes: RGB planes (a gray image repeated) for an RGB model, the one plane for
    /// a gray model, as [1, C, H, W]. Alpha is set aside (written back by `restored`).
    public static func input(_ image: RasterImage, channels: Int) throws -> Tensor {
        let planes: [Float]
        switch (channels, image.colorChannels) {
        case (3, _): planes = image.rgbPlanes()
        case (1, 1): planes = image.color
        default:
            throw ModelError("the model takes \(channels) channel\(channels == 1 ? " (gray)" : "s"), the image has \(image.colorChannels == 1 ? "gray" : "RGB") colour")
        }
        return try Tensor(shape: [1, planes.count / image.pixelCount, image.height, image.width], values: planes)
    }

    /// The first image of a network's output in the input's layout: gray again (the mean of three
    /// planes) for a gray input, the input's alpha re-attached, at `bitDepth`. An upscaler's output
    /// (the input's sides times one integer) gets the same layout, its alpha resized bilinearly
    /// (half-pixel centres, as cv2.resize's INTER_LINEAR that Real-ESRGAN offers for alpha).
    public static func restored(_ t: Tensor, like input: RasterImage?, bitDepth: Int) throws -> RasterImage {
        guard t.rank == 4 else { throw ModelError("the output has shape \(t.shape), not an image [1, C, H, W]") }
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let values = Array(UnsafeBufferPointer(start: t.pointer, count: c * h * w))
        var image: RasterImage
        if let input, let k = scale(of: input, toHeight: h, width: w), c == 3 || c == input.colorChannels {
            var like = input
            if k > 1 {
                let alpha = try input.alpha.map { try upscaled($0, height: input.height, width: input.width, to: h, w) }
                like = try RasterImage(width: w, height: h, colorChannels: input.colorChannels,
                                       color: [Float](repeating: 0, count: input.colorChannels * h * w), alpha: alpha, bitDepth: input.bitDepth)
            }
            image = c == 3 ? try like.withRestoredColor(rgb: values)
                           : try RasterImage(width: w, height: h, colorChannels: c, color: values, alpha: like.alpha)
        } else if c == 1 || c == 3 {
            image = try RasterImage(width: w, height: h, colorChannels: c, color: values)
        } else {
            throw ModelError("the output has \(c) channels, which an image file cannot hold; write a .npy")
        }
        image.bitDepth = bitDepth
        return image
    }

    /// The integer k with (h, w) = k · the input's sides, if there is one.
    static func scale(of input: RasterImage, toHeight h: Int, width w: Int) -> Int? {
        guard h % input.height == 0, w % input.width == 0, h / input.height == w / input.width, h >= input.height else { return nil }
        return h / input.height
    }

    static func upscaled(_ plane: [Float], height: Int, width: Int, to h: Int, _ w: Int) throws -> [Float] {
        let x = try Tensor(shape: [1, 1, height, width], values: plane)
        let y = try ComputeContext(threads: 1).interpolate(x, size: Size2(h, w), mode: .bilinear)
        return Array(UnsafeBufferPointer(start: y.pointer, count: h * w))
    }
}
