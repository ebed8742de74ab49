#include "irimage_codecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *error;
    size_t error_size;
    const uint8_t *data;  // reading
    size_t size;
    size_t offset;
    uint8_t *out;         // writing
    size_t out_size;
    size_t out_capacity;
} io_context;

static void on_error(png_structp png, png_const_charp message) {
    io_context *ctx = (io_context *)png_get_error_ptr(png);
    if (ctx->error[0] == 0) snprintf(ctx->error, ctx->error_size, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;  // ancillary-chunk problems do not change the pixels
}

static void read_bytes(png_structp png, png_bytep dst, png_size_t count) {
    io_context *ctx = (io_context *)png_get_io_ptr(png);
    if (count > ctx->size - ctx->offset) {
        snprintf(ctx->error, ctx->error_size, "truncated file: needed %zu more bytes at byte %zu of %zu",
                 (size_t)count, ctx->offset, ctx->size);
        png_error(png, ctx->error);
    }
    memcpy(dst, ctx->data + ctx->offset, count);
    ctx->offset += count;
}

static void write_bytes(png_structp png, png_bytep src, png_size_t count) {
    io_context *ctx = (io_context *)png_get_io_ptr(png);
    if (count > ctx->out_capacity - ctx->out_size) {
        size_t capacity = ctx->out_capacity ? ctx->out_capacity : 65536;
        while (capacity - ctx->out_size < count) {
            if (capacity > SIZE_MAX / 2) png_error(png, "encoded image too large");
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(ctx->out, capacity);
        if (!grown) png_error(png, "out of memory");
        ctx->out = grown;
        ctx->out_capacity = capacity;
    }
    memcpy(ctx->out + ctx->out_size, src, count);
    ctx->out_size += count;
}

static void flush_bytes(png_structp png) { (void)png; }

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

// Checks the signature and makes libpng's reader over `ctx` (with the dimension limits);
// -1 with the reason in ctx->error when it cannot. The caller then owns its setjmp.
static int open_reader(io_context *ctx, png_structp *png, png_infop *info) {
    if (ctx->size < 8 || png_sig_cmp((png_const_bytep)ctx->data, 0, 8) != 0) {
        snprintf(ctx->error, ctx->error_size, "not a PNG file (the first 8 bytes are not the PNG signature)");
        return -1;
    }
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    *info = *png ? png_create_info_struct(*png) : NULL;
    if (!*info) {
        if (*png) png_destroy_read_struct(png, NULL, NULL);
        snprintf(ctx->error, ctx->error_size, "cannot create a libpng reader");
        return -1;
    }
    png_set_read_fn(*png, ctx, read_bytes);
    png_set_user_limits(*png, 1u << 24, 1u << 24);
    return 0;
}

int irimage_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels,
                       irimage_decoded *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    if (error_size) error[0] = 0;
    io_context ctx = {error, error_size, data, size, 0, NULL, 0, 0};
    png_structp png;
    png_infop info;
    if (open_reader(&ctx, &png, &info)) return -1;
    // Touched after setjmp, so volatile: their values must survive the longjmp.
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        free(out->icc);
        out->icc = NULL;
        out->icc_size = 0;
        png_destroy_read_struct(&png, &info, NULL);
        if (error[0] == 0) snprintf(error, error_size, "corrupt PNG");
        return -1;
    }
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        snprintf(error, error_size, "image is %ux%u, more than the %llu pixels allowed", (unsigned)width, (unsigned)height,
                 (unsigned long long)max_pixels);
        png_error(png, error);
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16 && host_is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || (out_depth != 8 && out_depth != 16) ||
        rowbytes != (size_t)width * (size_t)channels * (size_t)(out_depth / 8)) {
        snprintf(error, error_size, "unsupported PNG layout (%d channels of %d bit)", channels, out_depth);
        png_error(png, error);
    }
    if (height != 0 && rowbytes > SIZE_MAX / height) png_error(png, "image too large");
    size_t total = rowbytes * height;
    pixels = (uint8_t *)malloc(total ? total : 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, info);  // checks the remaining chunks' CRCs and that IEND is there

    // iCCP and eXIf (before or after the image data): the profile as stored, the orientation tag.
    png_charp icc_name = NULL;
    int icc_compression = 0;
    png_bytep icc = NULL;
    png_uint_32 icc_size = 0;
    if (png_get_iCCP(png, info, &icc_name, &icc_compression, &icc, &icc_size) && icc && icc_size) {
        out->icc = (uint8_t *)malloc(icc_size);
        if (!out->icc) png_error(png, "out of memory");
        memcpy(out->icc, icc, icc_size);
        out->icc_size = icc_size;
    }
    png_bytep exif = NULL;
    png_uint_32 exif_size = 0;
    out->orientation = 1;
    if (png_get_eXIf_1(png, info, &exif_size, &exif) && exif && exif_size) out->orientation = irimage_exif_orientation(exif, exif_size);

    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = out_depth;
    out->pixels = pixels;
    out->size = total;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int irimage_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                       uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    return irimage_png_encode_icc(pixels, width, height, channels, bit_depth, NULL, 0, out, out_size, error, error_size);
}

int irimage_png_encode_icc(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                           const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (error_size) error[0] = 0;
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
    if (channels < 1 || channels > 4) { snprintf(error, error_size, "cannot write %d channels (1 to 4)", channels); return -1; }
    if (bit_depth != 8 && bit_depth != 16) { snprintf(error, error_size, "cannot write %d-bit samples (8 or 16)", bit_depth); return -1; }
    if (width == 0 || height == 0 || width > (1u << 24) || height > (1u << 24)) {
        snprintf(error, error_size, "cannot write a %ux%u image", (unsigned)width, (unsigned)height);
        return -1;
    }
    io_context ctx = {error, error_size, NULL, 0, 0, NULL, 0, 0};
    io_context *volatile pctx = &ctx;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning);
    if (!png) { snprintf(error, error_size, "cannot create a libpng writer"); return -1; }
    png_infop info = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!info) { png_destroy_write_struct(&png, NULL); snprintf(error, error_size, "cannot create a libpng writer"); return -1; }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(pctx->out);
        png_destroy_write_struct(&png, &info);
        if (error[0] == 0) snprintf(error, error_size, "PNG encoding failed");
        return -1;
    }
    png_set_write_fn(png, &ctx, write_bytes, flush_bytes);
    png_set_IHDR(png, info, width, height, bit_depth, color_types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (icc && icc_size) png_set_iCCP(png, info, "ICC Profile", PNG_COMPRESSION_TYPE_BASE, (png_const_bytep)icc, (png_uint_32)icc_size);
    png_write_info(png, info);
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    size_t rowbytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *out = ctx.out;
    *out_size = ctx.out_size;
    return 0;
}

int irimage_png_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    if (error_size) error[0] = 0;
    io_context ctx = {error, error_size, data, size, 0, NULL, 0, 0};
    png_structp png;
    png_infop info;
    if (open_reader(&ctx, &png, &info)) return -1;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        if (error[0] == 0) snprintf(error, error_size, "corrupt PNG");
        return -1;
    }
    png_read_info(png, info);  // the chunks before the image data: no pixel is decoded
    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, NULL, NULL, NULL);
    int alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    int colors = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    out->width = width;
    out->height = height;
    out->channels = colors + (alpha ? 1 : 0);
    out->bit_depth = depth == 16 ? 16 : 8;
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

void irimage_free(void *p) { free(p); }

void irimage_decoded_free(irimage_decoded *d) {
    free(d->pixels);
    free(d->icc);
    d->pixels = NULL;
    d->icc = NULL;
}
