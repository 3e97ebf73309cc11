// libpng 1.6 (Debian: libpng-dev).
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// libpng reports errors with longjmp, which must never unwind through Swift frames. Every libpng call
// therefore happens inside the C functions below, each of which owns its setjmp; Swift only sees a status
// code and an error message.

/// Decoded PNG as returned to Swift. `pixels` (malloc'd, free with sam2_png_free_decoded) holds height rows of
/// width*channels bytes, 8 bits per sample; palette images keep one index byte per pixel (channels == 1).
/// Largest pixel count either decoder accepts (the Swift side uses the same bound for JPEG).
#define SAM2_IMAGE_MAX_PIXELS (1ull << 28)

typedef struct {
    unsigned width, height;
    int channels;            // 1 gray / palette index, 2 gray+alpha, 3 RGB, 4 RGBA
    int color_type;          // PNG_COLOR_TYPE_* as stored in the file
    int bit_depth;           // bit depth as stored in the file (output is always 8-bit)
    unsigned char *pixels;
    int num_palette;         // palette entries (0 unless palette colour type)
    unsigned char palette[256 * 3];
    int num_trans;           // tRNS alpha entries for palette images
    unsigned char trans[256];
    char message[256];       // error text when the call fails
} sam2_png_decoded;

typedef struct {
    const unsigned char *data;
    size_t size, offset;
    char *message;
} sam2_png_reader;

static void sam2_png_error_fn(png_structp png, png_const_charp msg) {
    char *dst = (char *)png_get_error_ptr(png);
    if (dst) { strncpy(dst, msg ? msg : "unknown libpng error", 255); dst[255] = 0; }
    png_longjmp(png, 1);
}

// Benign problems (bad ancillary-chunk CRC, unknown chunks) are warnings: libpng recovers, and so do we.
static void sam2_png_warning_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void sam2_png_read_fn(png_structp png, png_bytep out, png_size_t length) {
    sam2_png_reader *r = (sam2_png_reader *)png_get_io_ptr(png);
    if (length > r->size - r->offset) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, r->data + r->offset, length);
    r->offset += length;
}

/// Decodes a PNG held in memory. Returns 0 on success, otherwise -1 with `out->message` set.
/// 16-bit samples are reduced to their high byte (what PIL does for 16-bit RGB/RGBA); bit depths below 8 are
/// unpacked to one byte per sample (gray values scaled to 0…255, palette indices kept as indices).
static inline int sam2_png_decode(const unsigned char *data, size_t size, sam2_png_decoded *out) {
    memset(out, 0, sizeof(*out));
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        strcpy(out->message, "missing PNG signature");
        return -1;
    }
    sam2_png_reader reader = { data, size, 8, out->message };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, out->message, sam2_png_error_fn, sam2_png_warning_fn);
    if (!png) { strcpy(out->message, "cannot create libpng read struct"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); strcpy(out->message, "cannot create libpng info struct"); return -1; }
    // Both are assigned after setjmp and read after a longjmp, so they must be volatile.
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels); free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &reader, sam2_png_read_fn);
    png_set_sig_bytes(png, 8);
    // Refuse absurd dimensions before allocating (libpng's default limit is 1e6 per side).
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    // Like PIL's decompression-bomb guard: refuse before allocating rather than die on a hostile header.
    if ((unsigned long long)width * height > SAM2_IMAGE_MAX_PIXELS) png_error(png, "image larger than 2^28 pixels");
    out->width = width; out->height = height;
    out->bit_depth = bit_depth; out->color_type = color_type;

    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL; int n = 0;
        if (png_get_PLTE(png, info, &plte, &n) & PNG_INFO_PLTE) {
            if (n > 256) n = 256;
            for (int i = 0; i < n; i++) {
                out->palette[3 * i] = plte[i].red;
                out->palette[3 * i + 1] = plte[i].green;
                out->palette[3 * i + 2] = plte[i].blue;
            }
            out->num_palette = n;
        }
        png_bytep trans = NULL; int nt = 0;
        if (png_get_tRNS(png, info, &trans, &nt, NULL) & PNG_INFO_tRNS) {
            if (nt > 256) nt = 256;
            if (trans) memcpy(out->trans, trans, (size_t)nt);
            out->num_trans = nt;
        }
        if (bit_depth < 8) png_set_packing(png);
    } else if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (bit_depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || rowbytes != (size_t)width * (size_t)channels) {
        png_error(png, "unexpected row layout after transforms");
    }
    out->channels = channels;
    pixels = (unsigned char *)malloc(rowbytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = pixels;
    return 0;
}

/// Releases the pixel buffer of a successful sam2_png_decode.
static inline void sam2_png_free_decoded(sam2_png_decoded *d) { free(d->pixels); d->pixels = NULL; }

typedef struct {
    unsigned char *data;
    size_t size, capacity;
} sam2_png_buffer;

static void sam2_png_write_fn(png_structp png, png_bytep bytes, png_size_t length) {
    sam2_png_buffer *b = (sam2_png_buffer *)png_get_io_ptr(png);
    if (length > b->capacity - b->size) {
        size_t cap = b->capacity ? b->capacity : 4096;
        while (length > cap - b->size) cap *= 2;
        unsigned char *grown = (unsigned char *)realloc(b->data, cap);
        if (!grown) png_error(png, "out of memory");
        b->data = grown; b->capacity = cap;
    }
    memcpy(b->data + b->size, bytes, length);
    b->size += length;
}

static void sam2_png_flush_fn(png_structp png) { (void)png; }

/// Encodes 8-bit pixels (rows of width*channels bytes) as PNG into a malloc'd buffer (*out_data, free with free()).
/// `color_type` is a PNG_COLOR_TYPE_*; palette images pass `palette` (num_palette RGB triplets) and optional tRNS.
/// Returns 0 on success, otherwise -1 with `message` (256 bytes) set.
static inline int sam2_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int color_type,
                                  const unsigned char *palette, int num_palette,
                                  const unsigned char *trans, int num_trans,
                                  unsigned char **out_data, size_t *out_size, char *message) {
    *out_data = NULL; *out_size = 0; message[0] = 0;
    int channels = color_type == PNG_COLOR_TYPE_GRAY ? 1 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
        : color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
        : color_type == PNG_COLOR_TYPE_PALETTE ? 1 : 0;
    if (channels == 0) { strcpy(message, "unsupported colour type"); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, sam2_png_error_fn, sam2_png_warning_fn);
    if (!png) { strcpy(message, "cannot create libpng write struct"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); strcpy(message, "cannot create libpng info struct"); return -1; }
    sam2_png_buffer buffer = { NULL, 0, 0 };
    if (setjmp(png_jmpbuf(png))) {
        free(buffer.data);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, &buffer, sam2_png_write_fn, sam2_png_flush_fn);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color plte[256];
        if (num_palette < 1 || num_palette > 256) png_error(png, "palette must have 1...256 entries");
        for (int i = 0; i < num_palette; i++) {
            plte[i].red = palette[3 * i]; plte[i].green = palette[3 * i + 1]; plte[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, plte, num_palette);
        if (trans && num_trans > 0) png_set_tRNS(png, info, (png_const_bytep)trans, num_trans > num_palette ? num_palette : num_trans, NULL);
    }
    png_write_info(png, info);
    size_t rowbytes = (size_t)width * (size_t)channels;
    for (unsigned y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * rowbytes));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    *out_data = buffer.data; *out_size = buffer.size;
    return 0;
}
