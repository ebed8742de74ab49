// PNG decode/encode over libpng's classic API. libpng reports errors by longjmp, which Swift
// cannot catch, so these wrappers own the setjmp and return an error code and message instead.
#ifndef IRIMAGE_PNG_H
#define IRIMAGE_PNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded PNG: interleaved samples, rows top to bottom, no padding between rows.
/// Palette and low-bit-depth images are expanded to 8 bit, tRNS becomes an alpha channel;
/// 16-bit samples are in host byte order. Sample values are as stored (no gamma transform).
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;   // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    int bit_depth;  // 8 or 16
    uint8_t *pixels;  // malloc'ed; release with irimage_decoded_free
    size_t size;      // bytes in pixels
    int orientation;  // EXIF orientation 1-8 as stored (1 when none); not applied here
    uint8_t *icc;     // the embedded ICC profile, malloc'ed, or NULL
    size_t icc_size;
} irimage_decoded;

/// Decodes `size` bytes of PNG. Refuses images with more than `max_pixels` pixels.
/// Returns 0 on success; otherwise writes a one-line reason into `error`.
int irimage_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                       irimage_decoded *out, char *error, size_t error_size);

/// Encodes interleaved samples (`channels` 1-4, `bit_depth` 8 or 16, 16-bit in host order)
/// into a malloc'ed PNG byte buffer. Returns 0 on success.
int irimage_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                       uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Encodes as above, with an ICC profile (iCCP chunk) when `icc` is not NULL.
int irimage_png_encode_icc(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                           const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size);

void irimage_free(void *p);
/// Frees a decoded image's pixels and ICC profile.
void irimage_decoded_free(irimage_decoded *d);

#ifdef __cplusplus
}
#endif

#endif
