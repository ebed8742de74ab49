// JPEG (libjpeg-turbo), TIFF (libtiff) and WebP (libwebp) over one shape of result, plus the EXIF
// orientation (libexif). Each codec is a thin layer: the C libraries do the decoding; these
// wrappers own their error paths (libjpeg's longjmp, libtiff's handlers) and return a code and a
// one-line message instead, so Swift never sees a longjmp or a process-wide handler.
#ifndef IRIMAGE_CODECS_H
#define IRIMAGE_CODECS_H

#include "irimage_png.h"

#ifdef __cplusplus
extern "C" {
#endif

/// What a file's header says, read without decoding (or allocating) any pixel.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;   // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (as the decoder will return them)
    int bit_depth;  // 8 or 16
} irimage_info;

/// TIFF compression for writing.
enum { IRIMAGE_TIFF_NONE = 0, IRIMAGE_TIFF_LZW = 1, IRIMAGE_TIFF_DEFLATE = 2 };

// Each probe reads the header only; each decode refuses more than `max_pixels` pixels before it
// allocates pixel memory. 0 on success, else a one-line reason in `error`.
int irimage_png_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size);
int irimage_jpeg_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size);
int irimage_tiff_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size);
int irimage_webp_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size);

int irimage_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size);
int irimage_tiff_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size);
int irimage_webp_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size);

/// Baseline JPEG of 8-bit gray (1) or RGB (3) samples; 4:4:4 chroma at quality >= 90, else 4:2:0.
int irimage_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size);
/// TIFF of 1-4 channels (alpha unassociated), 8 or 16 bit (host order), with the horizontal predictor when compressed.
int irimage_tiff_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth, int compression,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size);
/// WebP of RGB (3) or RGBA (4) 8-bit samples; lossless keeps every sample (also under transparent pixels).
int irimage_webp_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality, int lossless,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// The Orientation tag (1-8) of an EXIF block (with or without the "Exif\0\0" prefix); 1 when
/// the block has none or cannot be read (a bad EXIF block does not make the image unreadable).
int irimage_exif_orientation(const uint8_t *exif, size_t size);

#ifdef __cplusplus
}
#endif

#endif
