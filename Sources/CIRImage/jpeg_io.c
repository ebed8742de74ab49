// JPEG through libjpeg-turbo's libjpeg API. Decoding uses the library's defaults (ISLOW IDCT,
// fancy upsampling), which is what PIL asks of the same library, so the pixels match PIL's.
#include "irimage_codecs.h"

#include <setjmp.h>
#include <stdio.h>  // before jpeglib.h, which uses FILE
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *error;
    size_t error_size;
} error_context;

static void fail(j_common_ptr cinfo) {
    error_context *ctx = (error_context *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (ctx->error[0] == 0) snprintf(ctx->error, ctx->error_size, "corrupt JPEG: %s", text);
    longjmp(ctx->jump, 1);
}

// libjpeg reports damaged data as warnings and fills the missing pixels with gray; a restored
// photo with a gray band is worse than a clear error, so every warning but stray bytes between
// markers (common in camera files, harmless) fails the decode.
static void message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    error_context *ctx = (error_context *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (ctx->error[0] == 0) snprintf(ctx->error, ctx->error_size, "corrupt or truncated JPEG: %s", text);
    longjmp(ctx->jump, 1);
}

static void install(struct jpeg_decompress_struct *cinfo, error_context *ctx, char *error, size_t error_size) {
    cinfo->err = jpeg_std_error(&ctx->base);
    ctx->base.error_exit = fail;
    ctx->base.emit_message = message;
    ctx->error = error;
    ctx->error_size = error_size;
}

static int is_jpeg(const uint8_t *data, size_t size, char *error, size_t error_size) {
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        snprintf(error, error_size, "not a JPEG file (no start-of-image marker)");
        return 0;
    }
    return 1;
}

// The colour models a restoration network takes: gray and YCbCr/RGB. CMYK and YCCK are refused.
static int channels_of(struct jpeg_decompress_struct *cinfo, char *error, size_t error_size) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE: return 1;
    case JCS_YCbCr:
    case JCS_RGB: return 3;
    case JCS_CMYK:
    case JCS_YCCK:
        snprintf(error, error_size, "a %s JPEG: the networks take RGB or gray images; convert it to RGB first",
                 cinfo->jpeg_color_space == JCS_CMYK ? "CMYK" : "YCCK (CMYK)");
        return 0;
    default:
        snprintf(error, error_size, "a JPEG of an unknown colour model (%d components)", cinfo->num_components);
        return 0;
    }
}

int irimage_jpeg_probe(const uint8_t *data, size_t size, irimage_info *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    if (error_size) error[0] = 0;
    if (!is_jpeg(data, size, error, error_size)) return -1;
    struct jpeg_decompress_struct cinfo;
    error_context ctx;
    install(&cinfo, &ctx, error, error_size);
    if (setjmp(ctx.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);  // markers up to the first scan: no coefficient is decoded
    int channels = channels_of(&cinfo, error, error_size);
    out->width = cinfo.image_width;
    out->height = cinfo.image_height;
    out->channels = channels;
    out->bit_depth = 8;
    jpeg_destroy_decompress(&cinfo);
    return channels ? 0 : -1;
}

int irimage_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, irimage_decoded *out, char *error, size_t error_size) {
    memset(out, 0, sizeof(*out));
    out->orientation = 1;
    if (error_size) error[0] = 0;
    if (!is_jpeg(data, size, error, error_size)) return -1;
    struct jpeg_decompress_struct cinfo;
    error_context ctx;
    install(&cinfo, &ctx, error, error_size);
    uint8_t *volatile pixels = NULL;
    if (setjmp(ctx.jump)) {
        free(pixels);
        free(out->icc);
        out->icc = NULL;
        out->icc_size = 0;
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);  // EXIF
    jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);  // ICC, read by jpeg_read_icc_profile
    jpeg_read_header(&cinfo, TRUE);
    int channels = channels_of(&cinfo, error, error_size);
    if (!channels) longjmp(ctx.jump, 1);
    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(error, error_size, "image is %ux%u, more than the %llu pixels allowed", (unsigned)cinfo.image_width,
                 (unsigned)cinfo.image_height, (unsigned long long)max_pixels);
        longjmp(ctx.jump, 1);
    }
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            out->orientation = irimage_exif_orientation(m->data, m->data_length);
            break;
        }
    }
    JOCTET *icc = NULL;
    unsigned int icc_size = 0;
    if (jpeg_read_icc_profile(&cinfo, &icc, &icc_size) && icc) {
        out->icc = icc;  // malloc'ed by libjpeg-turbo: ours to free
        out->icc_size = icc_size;
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    size_t total = stride * cinfo.output_height;
    pixels = (uint8_t *)malloc(total ? total : 1);
    if (!pixels) {
        snprintf(error, error_size, "out of memory for a %ux%u image", (unsigned)cinfo.output_width, (unsigned)cinfo.output_height);
        longjmp(ctx.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = cinfo.output_width;
    out->height = cinfo.output_height;
    out->channels = cinfo.output_components;
    out->bit_depth = 8;
    out->pixels = pixels;
    out->size = total;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static void compress_fail(j_common_ptr cinfo) { fail(cinfo); }

int irimage_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                        const uint8_t *icc, size_t icc_size, uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (error_size) error[0] = 0;
    if (channels != 1 && channels != 3) { snprintf(error, error_size, "a JPEG holds gray or RGB, not %d channels", channels); return -1; }
    if (width == 0 || height == 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        snprintf(error, error_size, "a JPEG cannot be %ux%u pixels (at most %d a side)", (unsigned)width, (unsigned)height, (int)JPEG_MAX_DIMENSION);
        return -1;
    }
    if (quality < 1 || quality > 100) { snprintf(error, error_size, "JPEG quality %d is not 1-100", quality); return -1; }
    struct jpeg_compress_struct cinfo;
    error_context ctx;
    cinfo.err = jpeg_std_error(&ctx.base);
    ctx.base.error_exit = compress_fail;
    ctx.error = error;
    ctx.error_size = error_size;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    if (setjmp(ctx.jump)) {
        // The destination manager may have replaced `buffer` already: not ours to free here.
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &buffer_size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (channels == 3) {
        // 4:4:4 keeps the restored colour detail at high quality; 4:2:0 below, as most encoders.
        int h = quality >= 90 ? 1 : 2;
        cinfo.comp_info[0].h_samp_factor = h;
        cinfo.comp_info[0].v_samp_factor = h;
        for (int c = 1; c < 3; c++) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    }
    cinfo.optimize_coding = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    if (icc && icc_size) jpeg_write_icc_profile(&cinfo, icc, (unsigned int)icc_size);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = buffer_size;
    return 0;
}
