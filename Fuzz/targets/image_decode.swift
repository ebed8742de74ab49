// fuzz-seeds: Tests/Fixtures/images Tests/Fixtures/png
// fuzz-max-len: 65536
//
// libFuzzer target: the header probe and the JPEG, PNG, TIFF and WebP decoders (through their C
// shims and libraries) on arbitrary bytes; what decodes is encoded again in its own format.
import IRImage

func fuzzOne(_ data: UnsafeRawBufferPointer) {
    _ = try? ImageCodecs.probe(bytes: data)
    guard let d = try? ImageCodecs.decode(bytes: data, maxPixels: 1 << 20) else { return }
    let image = d.image
    precondition(image.color.count == image.pixelCount * image.colorChannels, "planes do not fill the image")
    precondition((1...8).contains(d.orientation), "orientation out of range")
    _ = try? ImageCodecs.encode(image, as: d.format, options: EncodeOptions(lossless: true, iccProfile: d.iccProfile))
}
