// The EXIF Orientation tag through libexif. Only the tag is read: the rest of the block is not
// carried into outputs (the pixels are written upright, so an old orientation would be wrong).
#include "irimage_codecs.h"

#include <libexif/exif-data.h>
#include <stdlib.h>
#include <string.h>

int irimage_exif_orientation(const uint8_t *exif, size_t size) {
    if (!exif || size < 8 || size > (64u << 20)) return 1;
    static const uint8_t header[6] = {'E', 'x', 'i', 'f', 0, 0};
    // libexif wants the "Exif\0\0" prefix that JPEG's APP1 has; PNG's eXIf and most WebP EXIF
    // chunks start at the TIFF header instead.
    uint8_t *owned = NULL;
    const uint8_t *block = exif;
    size_t length = size;
    if (memcmp(exif, header, 6) != 0) {
        owned = (uint8_t *)malloc(size + 6);
        if (!owned) return 1;
        memcpy(owned, header, 6);
        memcpy(owned + 6, exif, size);
        block = owned;
        length = size + 6;
    }
    int orientation = 1;
    ExifData *data = exif_data_new();
    if (data) {
        exif_data_unset_option(data, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);  // read as stored, no fix-ups
        exif_data_load_data(data, block, (unsigned int)length);
        ExifEntry *entry = exif_content_get_entry(data->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
        if (entry && entry->format == EXIF_FORMAT_SHORT && entry->components >= 1 && entry->data && entry->size >= 2) {
            int value = exif_get_short(entry->data, exif_data_get_byte_order(data));
            if (value >= 1 && value <= 8) orientation = value;
        }
        exif_data_unref(data);
    }
    free(owned);
    return orientation;
}
