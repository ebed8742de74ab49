// TIFF through libtiff, from and to memory (TIFFClientOpenExt), with per-handle error handlers
// so nothing process-wide is touched. Reads the first image of a file: 8 or 16-bit unsigned
// samples, gray or RGB (with an alpha extra sample or not), strips or tiles, either planar layout,
// any compression libtiff was built with; YCbCr JPEG-in-TIFF is converted to RGB by libtiff.
#include "irimage_codecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

// The most one strip, tile or scanline buffer may take (libtiff's own allocations included).
#define MAX_CHUNK_BYTES ((uint64_t)256 << 20)

typedef struct {
    const uint8_t *data;  // reading
    uint8_t *buffer;      // writing (grows)
    size_t size;
    size_t capacity;
    size_t offset;
    char *error;
    size_t error_size;
} memory_file;

static tmsize_t mem_read(thandle_t h, void *dst, tmsize_t n) {
    memory_file *f = (memory_file *)h;
    const uint8_t *src = f->data ? f->data : f->buffer;
    if (n < 0 || f->offset >= f->size) return 0;
    size_t count = (size_t)n < f->size - f->offset ? (size_t)n : f->size - f->offset;
    memcpy(dst, src + f->offset, count);
    f->offset += count;
    return (tmsize_t)count;
}

static tmsize_t mem_write(thandle_t h, void *src, tmsize_t n) {
    memory_file *f = (memory_file *)h;
    if (f->data || n < 0) return -1;
    size_t end = f->offset + (size_t)n;
    if (end < f->offset) return -1;
    if (end > f->capacity) {
        size_t capacity = f->capacity ? f->capacity : 65536;
        while (capacity < end) {
            if (capacity > SIZE_MAX / 2) return -1;
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(f->buffer, capacity);
        if (!grown) return -1;
        f->buffer = grown;
        f->capacity = capacity;
    }
    if (f->offset > f->size) memset(f->buffer + f->size, 0, f->offset - f->size);
    memcpy(f->buffer + f->offset, src, (size_t)n);
    f->offset = end;
    if (end > f->size) f->size = end;
    return n;
}

static toff_t mem_seek(thandle_t h, toff_t offset, int whence) {
    memory_file *f = (memory_file *)h;
    uint64_t base = whence == SEEK_CUR ? f->offset : whence == SEEK_END ? f->size : 0;
    uint64_t target = base + offset;
    if (f->data && target > f->size) target = f->size;
    f->offset = (size_t)target;
    return target;
}

static int mem_close(thandle_t h) { (void)h; return 0; }
static toff_t mem_size(thandle_t h) { return ((memory_file *)h)->size; }
static int mem_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void mem_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    memory_file *f = (memory_file *)user;
    if (f->error[0] == 0) {
        char text[400];
        vsnprintf(text, sizeof text, fmt, ap);
        snprintf(f->error, f->error_size, "corrupt TIFF: %s%s%s", module ? module : "", module ? ": " : "", text);
    }
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;  // unknown tags and the like do not change the pixels
}

static TIFF *open_memory(memory_file *f, const char *mode) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, f);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, f);
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)MAX_CHUNK_BYTES);  // one strip or tile; pixels are checked apart
    TIFF *tif = TIFFClientOpenExt("memory", mode, (thandle_t)f, mem_read, mem_write, mem_seek, mem_close, mem_size,
                                  mem_map, mem_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
}

static int is_tiff(const uint8_t *data, size_t size, char *error, size_t error_size) {
    if (size < 8 || !((data[0] == 'I' && data[1] == 'I') || (data[0] == 'M' && data[1] == 'M'))) {
        snprintf(error, error_size, "not a TIFF file (no II/MM byte-order mark)");
        return 0;
    }
    return 1;
}

typedef struct {
    uint32_t width, height;
    uint16_t bits, samples, photometric, planar, format, extra_count;
    int channels;
} layout;

// Reads the first directory's layout and refuses what a network cannot take, with the reason.
static int read_layout(TIFF *tif, layout *l, char *error, size_t error_size) {
    uint16_t *extra = NULL;
    memset(l, 0, sizeof(*l));
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &l->width) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &l->height)) {
        if (error[0] == 0) snprintf(error, error_size, "corrupt TIFF: no image width or length");
        return -1;
    }
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l->bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l->samples);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &l->extra_count, &extra);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l->photometric)) {
        snprintf(error, error_size, "corrupt TIFF: no photometric interpretation");
        return -1;
    }
    if (l->width == 0 || l->height == 0) { snprintf(error, error_size, "corrupt TIFF: the image is %ux%u", l->width, l->height); return -1; }
    if (l->format != SAMPLEFORMAT_UINT) {
        snprintf(error, error_size, "a TIFF of %s samples: irzoo reads 8 or 16-bit unsigned integers",
                 l->format == SAMPLEFORMAT_IEEEFP ? "floating-point" : "signed or other");
        return -1;
    }
    if (l->bits != 8 && l->bits != 16) {
        snprintf(error, error_size, "a TIFF of %u-bit samples: irzoo reads 8 or 16 bit", (unsigned)l->bits);
        return -1;
    }
    int colors;
    switch (l->photometric) {
    case PHOTOMETRIC_MINISBLACK: colors = 1; break;
    case PHOTOMETRIC_RGB: colors = 3; break;
    case PHOTOMETRIC_YCBCR: {
        uint16_t compression = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
        if (compression != COMPRESSION_JPEG || l->bits != 8) {
            snprintf(error, error_size, "a YCbCr TIFF not in JPEG compression: save it as RGB");
            return -1;
        }
        TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);  // libtiff's JPEG codec converts
        colors = 3;
        break;
    }
    case PHOTOMETRIC_SEPARATED:
        snprintf(error, error_size, "a CMYK TIFF: the networks take RGB or gray images; convert it to RGB first");
        return -1;
    default:
        snprintf(error, error_size, "a TIFF of photometric interpretation %u (palette, bilevel, Lab, ...): irzoo reads gray or RGB",
                 (unsigned)l->photometric);
        return -1;
    }
    if (l->samples < colors || l->samples > colors + 1) {
        snprintf(error, error_size, "a TIFF of %u samples per pixel for %s: irzoo reads colour plus at most one alpha",
                 (unsigned)l->samples, colors == 1 ? "gray" : "RGB");
        return -1;
    }
    l->channels = l->samples;
    return 0;
}

int irimage_tiff_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    if (error_size) error[0] = 0;
    if (!is_tiff(data, size, error, error_size)) return -1;
    memory_file f = {data, NULL, size, size, 0, error, error_size};
    TIFF *tif = open_memory(&f, "rm");  // reads the header and first directory (tags), no strips
    if (!tif) {
        if (error[0] == 0) snprintf(error, error_size, "corrupt TIFF");
        return -1;
    }
    layout l;
    int status = read_layout(tif, &l, error, error_size);
    TIFFClose(tif);
    if (status) return status;
    out->width = l.width;
    out->height = l.height;
    out->channels = l.channels;
    out->bit_depth = l.bits;
    return 0;
}

// Copies `count` samples of one plane (`sample`) or of all (`sample` < 0) from a decoded chunk.
static void place(uint8_t *pixels, const layout *l, const uint8_t *chunk, uint32_t x0, uint32_t y0, uint32_t cw, uint32_t ch,
                  uint32_t chunk_stride, int sample) {
    size_t bytes = l->bits / 8;
    size_t pixel = bytes * (size_t)l->channels;
    uint32_t rows = y0 + ch > l->height ? l->height - y0 : ch;
    uint32_t cols = x0 + cw > l->width ? l->width - x0 : cw;
    for (uint32_t y = 0; y < rows; y++) {
        uint8_t *dst = pixels + ((size_t)(y0 + y) * l->width + x0) * pixel;
        const uint8_t *src = chunk + (size_t)y * chunk_stride;
        if (sample < 0) {
            memcpy(dst, src, (size_t)cols * pixel);
        } else {
            for (uint32_t x = 0; x < cols; x++) memcpy(dst + x * pixel + (size_t)sample * bytes, src + x * bytes, bytes);
        }
    }
}

int irimage_tiff_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    out->orientation = 1;
    if (error_size) error[0] = 0;
    if (!is_tiff(data, size, error, error_size)) return -1;
    memory_file f = {data, NULL, size, size, 0, error, error_size};
    TIFF *tif = open_memory(&f, "rm");
    if (!tif) {
        if (error[0] == 0) snprintf(error, error_size, "corrupt TIFF");
        return -1;
    }
    layout l;
    uint8_t *pixels = NULL, *chunk = NULL;
    int status = -1;
    if (read_layout(tif, &l, error, error_size)) goto done;
    if ((uint64_t)l.width * l.height > max_pixels) {
        snprintf(error, error_size, "image is %ux%u, more than the %llu pixels allowed", l.width, l.height, (unsigned long long)max_pixels);
        goto done;
    }
    uint16_t orientation = 1;
    if (TIFFGetField(tif, TIFFTAG_ORIENTATION, &orientation) && orientation >= 1 && orientation <= 8) out->orientation = orientation;
    uint32_t icc_size = 0;
    void *icc = NULL;
    if (TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_size, &icc) && icc && icc_size) {
        out->icc = (uint8_t *)malloc(icc_size);
        if (!out->icc) { snprintf(error, error_size, "out of memory"); goto done; }
        memcpy(out->icc, icc, icc_size);
        out->icc_size = icc_size;
    }
    size_t bytes = l.bits / 8;
    size_t total = (size_t)l.width * l.height * (size_t)l.channels * bytes;
    pixels = (uint8_t *)malloc(total);
    if (!pixels) { snprintf(error, error_size, "out of memory for a %ux%u image", l.width, l.height); goto done; }
    int planes = l.planar == PLANARCONFIG_SEPARATE ? l.channels : 1;
    size_t per_chunk_pixel = bytes * (size_t)(planes > 1 ? 1 : l.channels);
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        tmsize_t tile_size = TIFFTileSize(tif);
        // A tile larger than the cap is a hostile header (real files use tiles of KBs to a few MBs).
        if (tw == 0 || th == 0 || tile_size <= 0 || (uint64_t)tw * th * per_chunk_pixel > (uint64_t)tile_size ||
            (uint64_t)tile_size > MAX_CHUNK_BYTES) {
            if (error[0] == 0) snprintf(error, error_size, "corrupt TIFF: bad tile size");
            goto done;
        }
        chunk = (uint8_t *)malloc((size_t)tile_size);
        if (!chunk) { snprintf(error, error_size, "out of memory"); goto done; }
        for (int p = 0; p < planes; p++) {
            for (uint32_t y = 0; y < l.height; y += th) {
                for (uint32_t x = 0; x < l.width; x += tw) {
                    if (TIFFReadTile(tif, chunk, x, y, 0, (uint16_t)p) < 0) {
                        if (error[0] == 0) snprintf(error, error_size, "corrupt or truncated TIFF: tile at (%u, %u)", x, y);
                        goto done;
                    }
                    place(pixels, &l, chunk, x, y, tw, th, (uint32_t)(tw * per_chunk_pixel), planes > 1 ? p : -1);
                }
            }
        }
    } else {
        tmsize_t line = TIFFScanlineSize(tif);
        if (line <= 0 || (uint64_t)l.width * per_chunk_pixel > (uint64_t)line || (uint64_t)line > MAX_CHUNK_BYTES) {
            if (error[0] == 0) snprintf(error, error_size, "corrupt TIFF: bad scanline size");
            goto done;
        }
        chunk = (uint8_t *)malloc((size_t)line);
        if (!chunk) { snprintf(error, error_size, "out of memory"); goto done; }
        for (int p = 0; p < planes; p++) {
            for (uint32_t y = 0; y < l.height; y++) {
                if (TIFFReadScanline(tif, chunk, y, (uint16_t)p) < 0) {
                    if (error[0] == 0) snprintf(error, error_size, "corrupt or truncated TIFF: row %u", y);
                    goto done;
                }
                place(pixels, &l, chunk, 0, y, l.width, 1, (uint32_t)line, planes > 1 ? p : -1);
            }
        }
    }
    // libtiff reports damaged compressed data through the error handler, sometimes without
    // failing the read: any error means the pixels cannot be trusted.
    if (error[0] != 0) goto done;
    out->width = l.width;
    out->height = l.height;
    out->channels = l.channels;
    out->bit_depth = l.bits;
    out->pixels = pixels;
    out->size = total;
    pixels = NULL;
    status = 0;
done:
    free(pixels);
    free(chunk);
    if (status) {
        free(out->icc);
        out->icc = NULL;
        out->icc_size = 0;
    }
    TIFFClose(tif);
    return status;
}

int irimage_tiff_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth, int compression,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (error_size) error[0] = 0;
    if (channels < 1 || channels > 4) { snprintf(error, error_size, "cannot write %d channels to a TIFF (1 to 4)", channels); return -1; }
    if (bit_depth != 8 && bit_depth != 16) { snprintf(error, error_size, "cannot write %d-bit TIFF samples (8 or 16)", bit_depth); return -1; }
    if (width == 0 || height == 0) { snprintf(error, error_size, "cannot write a %ux%u image", width, height); return -1; }
    memory_file f = {NULL, NULL, 0, 0, 0, error, error_size};
    TIFF *tif = open_memory(&f, width * (uint64_t)height * channels * (bit_depth / 8) > 0xF0000000u ? "w8" : "w");
    if (!tif) {
        if (error[0] == 0) snprintf(error, error_size, "cannot create a libtiff writer");
        free(f.buffer);
        return -1;
    }
    int colors = channels >= 3 ? 3 : 1;
    uint16_t scheme = compression == IRIMAGE_TIFF_LZW ? COMPRESSION_LZW : compression == IRIMAGE_TIFF_DEFLATE ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bit_depth);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)channels);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, colors == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, scheme);
    if (scheme != COMPRESSION_NONE) TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    if (channels == 2 || channels == 4) {
        uint16_t alpha = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &alpha);
    }
    if (icc && icc_size) TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)icc_size, icc);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    size_t stride = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    uint8_t *row = (uint8_t *)malloc(stride);  // libtiff's predictor works in place on the row it is given
    int status = row ? 0 : -1;
    for (uint32_t y = 0; status == 0 && y < height; y++) {
        memcpy(row, pixels + (size_t)y * stride, stride);
        if (TIFFWriteScanline(tif, row, y, 0) < 0) status = -1;
    }
    free(row);
    if (status == 0 && !TIFFFlush(tif)) status = -1;
    TIFFClose(tif);
    if (status != 0 || error[0] != 0) {
        if (error[0] == 0) snprintf(error, error_size, "TIFF encoding failed");
        free(f.buffer);
        return -1;
    }
    *out = f.buffer;
    *out_size = f.size;
    return 0;
}
