/* annotate.c - what a frame shows, drawn into it: the field, step and
 * time at the top left, the transfer function's legend (colour bar with
 * its opacity curve over it, the value range under it) at the bottom left,
 * and the domain's outline (and the bricks') projected by the camera.
 */
#include "insitu_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A 5x7 font: seven rows of five bits (bit 4 leftmost) per glyph. */
struct glyph {
    char c;
    uint8_t rows[7];
};

static const struct glyph font[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
};

static const uint8_t *glyph_rows(char c)
{
    c = (char)toupper((unsigned char)c);
    for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); i++)
        if (font[i].c == c)
            return font[i].rows;
    return NULL; /* a space, or a character the font lacks: a gap */
}

/* Blends colour rgb with opacity a over pixel (x, y); outside: nothing. */
static void blend(struct zc_fb *fb, long x, long y, const uint8_t rgb[3], float a)
{
    if (x < 0 || y < 0 || x >= (long)zc_fb_width(fb) || y >= (long)zc_fb_height(fb))
        return;
    uint8_t *px = (uint8_t *)(zc_fb_row(fb, (unsigned)y) + x);
    for (int c = 0; c < 3; c++)
        px[c] = (uint8_t)lroundf(px[c] + a * ((float)rgb[c] - px[c]));
    px[3] = 255;
}

static const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0};

/* Text at (x, y), top left, each font pixel scale x scale, with a shadow. */
static void text(struct zc_fb *fb, long x, long y, unsigned scale, const char *s)
{
    for (int pass = 0; pass < 2; pass++) {
        long off = pass == 0 ? (long)scale : 0;
        const uint8_t *colour = pass == 0 ? black : white;
        for (size_t n = 0; s[n]; n++) {
            const uint8_t *rows = glyph_rows(s[n]);
            for (unsigned r = 0; rows && r < 7 * scale; r++)
                for (unsigned c = 0; c < 5 * scale; c++)
                    if (rows[r / scale] & (0x10 >> (c / scale)))
                        blend(fb, x + off + (long)(n * 6 * scale + c), y + off + r, colour, 1);
        }
    }
}

static void line(struct zc_fb *fb, double x0, double y0, double x1, double y1, const uint8_t rgb[3],
                 float a)
{
    double len = fmax(fabs(x1 - x0), fabs(y1 - y0));
    long n = (long)ceil(len);
    for (long i = 0; i <= n; i++) {
        double t = n ? (double)i / n : 0;
        blend(fb, lround(x0 + t * (x1 - x0) - 0.5), lround(y0 + t * (y1 - y0) - 0.5), rgb, a);
    }
}

/* The 12 edges of box [lo, lo + n). */
static void box(struct zc_fb *fb, const struct insitu_proj *p, const unsigned lo[3],
                const unsigned n[3], const uint8_t rgb[3], float a)
{
    for (int axis = 0; axis < 3; axis++)
        for (int corner = 0; corner < 4; corner++) {
            double w0[3], w1[3];
            int other = 0;
            for (int d = 0; d < 3; d++) {
                double far = (double)lo[d] + n[d];
                if (d == axis) {
                    w0[d] = lo[d];
                    w1[d] = far;
                } else {
                    w0[d] = w1[d] = (corner >> other++) & 1 ? far : lo[d];
                }
            }
            double x0, y0, x1, y1;
            insitu_proj_point(p, w0, &x0, &y0);
            insitu_proj_point(p, w1, &x1, &y1);
            line(fb, x0, y0, x1, y1, rgb, a);
        }
}

/* The colour bar: each column the colour at its value (over black, at
 * full strength), the opacity curve a line over it, and the range. */
static void legend(struct zc_fb *fb, const struct zc_tf *tf, unsigned scale, const char *field)
{
    if (tf->n == 0)
        return;
    unsigned w = zc_fb_width(fb), h = zc_fb_height(fb);
    long bw = (long)(w / 3), bh = 8 * (long)scale, x0 = 8 * (long)scale;
    long y0 = (long)h - 20 * (long)scale - bh;
    float lo = tf->value[0], hi = tf->value[tf->n - 1], amax = 0;
    for (unsigned i = 0; i < tf->n; i++)
        amax = fmaxf(amax, tf->rgba[i][3]);
    double prev = NAN;
    for (long x = 0; x < bw; x++) {
        float c[4];
        insitu_tf_eval(tf, lo + (hi - lo) * (float)x / (float)(bw > 1 ? bw - 1 : 1), c);
        uint8_t rgb[3];
        for (int k = 0; k < 3; k++)
            rgb[k] = (uint8_t)lroundf(fminf(fmaxf(c[k], 0), 1) * 255);
        for (long y = 0; y < bh; y++)
            blend(fb, x0 + x, y0 + y, rgb, 1);
        double curve = y0 - 2 - (amax > 0 ? c[3] / amax : 0) * 3 * (double)bh;
        if (!isnan(prev))
            line(fb, x0 + x - 0.5, prev, x0 + x + 0.5, curve, white, 1);
        prev = curve;
    }
    line(fb, x0 - 0.5, y0 - 0.5, x0 + bw - 0.5, y0 - 0.5, white, 0.6f);
    char s[64];
    snprintf(s, sizeof(s), "%.3g", lo);
    text(fb, x0, y0 + bh + 2 * (long)scale, scale, s);
    snprintf(s, sizeof(s), "%.3g", hi);
    text(fb, x0 + bw - (long)(strlen(s) * 6 * scale), y0 + bh + 2 * (long)scale, scale, s);
    snprintf(s, sizeof(s), "%s", field);
    text(fb, x0, y0 - 3 * bh - 12 * (long)scale, scale, s);
}

void insitu_annotate(struct zc_fb *fb, const struct zc_insitu_config *cfg,
                     const struct insitu_proj *p, const struct zc_insitu_frame *info,
                     const unsigned *bricks, unsigned nb)
{
    static const uint8_t grey[3] = {160, 170, 190}, dim[3] = {90, 100, 120};
    unsigned scale = zc_fb_height(fb) >= 384 ? 2 : 1;
    zc_fb_touch_rect(fb, 0, 0, zc_fb_width(fb), zc_fb_height(fb));
    for (unsigned b = 0; cfg->brick_grid && b < nb; b++)
        box(fb, p, bricks + 6 * b, bricks + 6 * b + 3, dim, 0.5f);
    static const unsigned zero[3];
    box(fb, p, zero, cfg->global, grey, 0.8f);
    char s[128];
    snprintf(s, sizeof(s), "%s  step %llu  t = %.4g", info->field, (unsigned long long)info->step,
             info->time);
    text(fb, 6 * (long)scale, 6 * (long)scale, scale, s);
    legend(fb, &cfg->tf, scale, info->field);
}
