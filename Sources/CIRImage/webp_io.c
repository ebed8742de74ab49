// WebP through libwebp: decode (RGB, or RGBA when the file has alpha), the ICCP and EXIF chunks
// through libwebpdemux, encode lossy or lossless and add an ICC profile with libwebpmux.
#include "irimage_codecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>

static const char *status_text(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated file (not enough data)";
    default: return "unknown error";
    }
}

static int is_webp(const uint8_t *data, size_t size, char *error, size_t error_size) {
    if (size < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WEBP", 4) != 0) {
        snprintf(error, error_size, "not a WebP file (no RIFF/WEBP header)");
        return 0;
    }
    return 1;
}

static int features(const uint8_t *data, size_t size, WebPBitstreamFeatures *f, char *error, size_t error_size) {
    VP8StatusCode s = WebPGetFeatures(data, size, f);
    if (s != VP8_STATUS_OK) {
        snprintf(error, error_size, "corrupt WebP: %s", status_text(s));
        return -1;
    }
    if (f->has_animation) {
        snprintf(error, error_size, "an animated WebP: irzoo restores still images");
        return -1;
    }
    return 0;
}

int irimage_webp_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    if (error_size) error[0] = 0;
    if (!is_webp(data, size, error, error_size)) return -1;
    WebPBitstreamFeatures f;
    if (features(data, size, &f, error, error_size)) return -1;
    out->width = (uint32_t)f.width;
    out->height = (uint32_t)f.height;
    out->channels = f.has_alpha ? 4 : 3;
    out->bit_depth = 8;
    return 0;
}

int irimage_webp_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    out->orientation = 1;
    if (error_size) error[0] = 0;
    if (!is_webp(data, size, error, error_size)) return -1;
    WebPBitstreamFeatures f;
    if (features(data, size, &f, error, error_size)) return -1;
    if ((uint64_t)f.width * (uint64_t)f.height > max_pixels) {
        snprintf(error, error_size, "image is %dx%d, more than the %llu pixels allowed", f.width, f.height, (unsigned long long)max_pixels);
        return -1;
    }
    // The container's chunks: the ICC profile as stored, the orientation from EXIF.
    WebPData whole = {data, size};
    WebPDemuxer *demux = WebPDemux(&whole);
    if (demux) {
        WebPChunkIterator chunk;
        if (WebPDemuxGetChunk(demux, "ICCP", 1, &chunk)) {
            if (chunk.chunk.size) {
                out->icc = (uint8_t *)malloc(chunk.chunk.size);
                if (out->icc) {
                    memcpy(out->icc, chunk.chunk.bytes, chunk.chunk.size);
                    out->icc_size = chunk.chunk.size;
                }
            }
            WebPDemuxReleaseChunkIterator(&chunk);
        }
        if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
            out->orientation = irimage_exif_orientation(chunk.chunk.bytes, chunk.chunk.size);
            WebPDemuxReleaseChunkIterator(&chunk);
        }
        WebPDemuxDelete(demux);
    }
    int channels = f.has_alpha ? 4 : 3;
    size_t stride = (size_t)f.width * (size_t)channels;
    size_t total = stride * (size_t)f.height;
    uint8_t *pixels = (uint8_t *)malloc(total);
    if (!pixels) {
        snprintf(error, error_size, "out of memory for a %dx%d image", f.width, f.height);
        irimage_decoded_free(out);
        return -1;
    }
    uint8_t *ok = f.has_alpha ? WebPDecodeRGBAInto(data, size, pixels, total, (int)stride)
                              : WebPDecodeRGBInto(data, size, pixels, total, (int)stride);
    if (!ok) {
        // Decode again incrementally only to learn why (truncated or corrupt).
        WebPDecoderConfig config;
        VP8StatusCode s = VP8_STATUS_BITSTREAM_ERROR;
        if (WebPInitDecoderConfig(&config)) {
            config.output.colorspace = f.has_alpha ? MODE_RGBA : MODE_RGB;
            s = WebPDecode(data, size, &config);
            WebPFreeDecBuffer(&config.output);
        }
        snprintf(error, error_size, "corrupt or truncated WebP: %s", status_text(s == VP8_STATUS_OK ? VP8_STATUS_BITSTREAM_ERROR : s));
        free(pixels);
        irimage_decoded_free(out);
        return -1;
    }
    out->width = (uint32_t)f.width;
    out->height = (uint32_t)f.height;
    out->channels = channels;
    out->bit_depth = 8;
    out->pixels = pixels;
    out->size = total;
    return 0;
}

int irimage_webp_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality, int lossless,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (error_size) error[0] = 0;
    if (channels != 3 && channels != 4) { snprintf(error, error_size, "a WebP holds RGB or RGBA, not %d channels", channels); return -1; }
    if (width == 0 || height == 0 || width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION) {
        snprintf(error, error_size, "a WebP cannot be %ux%u pixels (at most %d a side)", width, height, WEBP_MAX_DIMENSION);
        return -1;
    }
    WebPConfig config;
    WebPPicture picture;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&picture)) { snprintf(error, error_size, "libwebp version mismatch"); return -1; }
    config.lossless = lossless ? 1 : 0;
    config.quality = (float)quality;
    config.exact = lossless ? 1 : 0;  // lossless keeps the colour under transparent pixels too
    if (!WebPValidateConfig(&config)) { snprintf(error, error_size, "invalid WebP settings (quality %d)", quality); return -1; }
    picture.use_argb = lossless ? 1 : 0;
    picture.width = (int)width;
    picture.height = (int)height;
    int imported = channels == 4 ? WebPPictureImportRGBA(&picture, pixels, (int)width * 4)
                                 : WebPPictureImportRGB(&picture, pixels, (int)width * 3);
    if (!imported) { snprintf(error, error_size, "out of memory"); WebPPictureFree(&picture); return -1; }
    WebPMemoryWriter writer;
    WebPMemoryWriterInit(&writer);
    picture.writer = WebPMemoryWrite;
    picture.custom_ptr = &writer;
    int encoded = WebPEncode(&config, &picture);
    int code = picture.error_code;
    WebPPictureFree(&picture);
    if (!encoded) {
        snprintf(error, error_size, "WebP encoding failed (libwebp error %d)", code);
        WebPMemoryWriterClear(&writer);
        return -1;
    }
    if (!icc || !icc_size) {
        *out = writer.mem;  // WebPMemoryWriter allocates with malloc (WebPMalloc)
        *out_size = writer.size;
        return 0;
    }
    WebPMux *mux = WebPMuxNew();
    WebPData image = {writer.mem, writer.size}, profile = {icc, icc_size}, assembled = {NULL, 0};
    int ok = mux && WebPMuxSetImage(mux, &image, 1) == WEBP_MUX_OK && WebPMuxSetChunk(mux, "ICCP", &profile, 1) == WEBP_MUX_OK &&
             WebPMuxAssemble(mux, &assembled) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    WebPMemoryWriterClear(&writer);
    if (!ok) {
        snprintf(error, error_size, "cannot add the ICC profile to the WebP");
        WebPDataClear(&assembled);
        return -1;
    }
    *out = (uint8_t *)assembled.bytes;
    *out_size = assembled.size;
    return 0;
}
