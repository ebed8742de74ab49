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
    /// planes) for a gray input, the input's alpha re-attached, at `bitDepth`.
    public static func restored(_ t: Tensor, like input: RasterImage?, bitDepth: Int) throws -> RasterImage {
        guard t.rank == 4 else { throw ModelError("the output has shape \(t.shape), not an image [1, C, H, W]") }
        let (c, h, w) = (t.shape[1], t.shape[2], t.shape[3])
        let values = Array(UnsafeBufferPointer(start: t.pointer, count: c * h * w))
        var image: RasterImage
        if let input, input.width == w, input.height == h, c == 3 {
            image = try input.withRestoredColor(rgb: values)
        } else if let input, input.width == w, input.height == h, c == input.colorChannels {
            image = try RasterImage(width: w, height: h, colorChannels: c, color: values, alpha: input.alpha)
        } else if c == 1 || c == 3 {
            image = try RasterImage(width: w, height: h, colorChannels: c, color: values)
        } else {
            throw ModelError("the output has \(c) channels, which an image file cannot hold; write a .npy")
        }
        image.bitDepth = bitDepth
        return image
    }
}
