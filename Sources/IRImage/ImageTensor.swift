import IRTensor

/// Between images and the tensors networks read and write (`.npy` is float32 NCHW).
extension PNGImage {
    /// The colour planes as a float32 [1, C, H, W] tensor; a gray image gives C = 3 when `rgb`.
    public func colorTensor(name: String = "image", rgb: Bool = true) -> TensorRecord {
        let planes = rgb ? rgbPlanes() : color
        let buffer = planes.withUnsafeBytes { ByteBuffer.copying($0) }
        // The shape and byte count agree by construction.
        return try! TensorRecord(name: name, dtype: .f32, shape: [1, planes.count / pixelCount, height, width], data: buffer.whole)
    }

    /// An image from a network's output: [1, C, H, W] or [C, H, W] with C = 1 or 3, any float dtype.
    public init(tensor: TensorRecord, alpha: [Float]? = nil, bitDepth: Int = 8) throws {
        var shape = tensor.shape
        if shape.count == 4 {
            guard shape[0] == 1 else {
                throw ImageIOError(file: nil, reason: "tensor '\(tensor.name)' holds \(shape[0]) images; an image file holds one (shape \(tensor.shape))")
            }
            shape.removeFirst()
        }
        guard shape.count == 3 else {
            throw ImageIOError(file: nil, reason: "tensor '\(tensor.name)' has shape \(tensor.shape); an image needs [1, C, H, W] or [C, H, W]")
        }
        guard shape[0] == 1 || shape[0] == 3 else {
            throw ImageIOError(file: nil, reason: "tensor '\(tensor.name)' has \(shape[0]) channels; an image needs 1 (gray) or 3 (RGB)")
        }
        guard tensor.dtype.isFloatingPoint else {
            throw ImageIOError(file: nil, reason: "tensor '\(tensor.name)' is \(tensor.dtype.rawValue); an image needs floating-point values in [0, 1]")
        }
        var values = [Float](repeating: 0, count: tensor.elementCount)
        values.withUnsafeMutableBufferPointer { ElementConversion.toF32(tensor.data, tensor.dtype, into: $0.baseAddress!, count: tensor.elementCount) }
        try self.init(width: shape[2], height: shape[1], colorChannels: shape[0], color: values, alpha: alpha, bitDepth: bitDepth)
    }
}
