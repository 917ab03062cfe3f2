/* tf.c - 1-D transfer functions: presets and the text file format.
 *
 * A transfer function is a short list of control points (value, r, g, b, a)
 * with linear interpolation in between; the renderer turns it into a lookup
 * table for the volume's value range.  The file format is one control point
 * a line, five numbers separated by blanks, values strictly increasing,
 * colours and opacity in [0, 1]; '#' starts a comment.  A parser of outside
 * text, so it checks everything and names the offending line.
 */
#include "zc/base.h"
#include "zc/vol.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TF_MAX_FILE (64 * 1024)

struct preset_point {
    float x; /* position in [0, 1] of the value range */
    float rgba[4];
};

/* T1-weighted head: air and noise clear, scalp and face a skin tone (the
 * surface a viewer recognizes), brain brighter and denser. */
static const struct preset_point mri[] = {
    {0.00f, {0, 0, 0, 0}},
    {0.14f, {0.6f, 0.4f, 0.3f, 0}},
    {0.20f, {0.85f, 0.62f, 0.5f, 0.35f}},
    {0.35f, {0.95f, 0.75f, 0.62f, 0.6f}},
    {0.55f, {1.0f, 0.9f, 0.82f, 0.8f}},
    {1.00f, {1, 1, 1, 0.95f}},
};
/* CT: soft tissue faint and red, bone opaque and white. */
static const struct preset_point ct[] = {
    {0.00f, {0, 0, 0, 0}},
    {0.30f, {0.7f, 0.3f, 0.2f, 0}},
    {0.38f, {0.8f, 0.4f, 0.3f, 0.03f}},
    {0.55f, {0.9f, 0.85f, 0.7f, 0.2f}},
    {0.70f, {1, 1, 0.95f, 0.7f}},
    {1.00f, {1, 1, 1, 0.95f}},
};

int zc_tf_preset(struct zc_tf *tf, const char *name, float lo, float hi)
{
    const struct preset_point *p;
    size_t n;
    if (strcmp(name, "mri") == 0) {
        p = mri;
        n = ZC_ARRAY_SIZE(mri);
    } else if (strcmp(name, "ct") == 0) {
        p = ct;
        n = ZC_ARRAY_SIZE(ct);
    } else {
        return -EINVAL;
    }
    if (!(hi > lo))
        hi = lo + 1;
    tf->n = (unsigned)n;
    for (size_t i = 0; i < n; i++) {
        tf->value[i] = lo + p[i].x * (hi - lo);
        memcpy(tf->rgba[i], p[i].rgba, sizeof(tf->rgba[i]));
    }
    return 0;
}

/* One non-comment line: five finite numbers, colour in [0, 1]. */
static int parse_point(const char *s, float out[5])
{
    for (int i = 0; i < 5; i++) {
        char *end;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x) || fabs(x) > 3e38)
            return -EINVAL;
        if (i > 0 && (x < 0 || x > 1))
            return -EINVAL;
        out[i] = (float)x;
        s = end;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    return *s == '\0' ? 0 : -EINVAL;
}

int zc_tf_parse(struct zc_tf *tf, const char *text, size_t len, unsigned *line)
{
    char buf[256];
    unsigned n = 0;
    *line = 0;
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        ++*line;
        size_t l = end - pos;
        if (l >= sizeof(buf))
            return -EINVAL;
        memcpy(buf, text + pos, l);
        buf[l] = '\0';
        pos = end + 1;
        if (memchr(buf, '\0', l))
            return -EINVAL;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        const char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (*s == '\0')
            continue;
        float p[5];
        if (n == ZC_TF_MAX_POINTS || parse_point(s, p) != 0 ||
            (n > 0 && !(p[0] > tf->value[n - 1])))
            return -EINVAL;
        tf->value[n] = p[0];
        memcpy(tf->rgba[n], p + 1, sizeof(tf->rgba[n]));
        n++;
    }
    if (n == 0) {
        *line = 0;
        return -EINVAL;
    }
    tf->n = n;
    *line = 0;
    return 0;
}

int zc_tf_load(struct zc_tf *tf, const char *path, unsigned *line)
{
    *line = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TF_MAX_FILE) {
        close(fd);
        return -EINVAL;
    }
    char *text = malloc((size_t)st.st_size + 1);
    int err = text ? zc_read_all(fd, text, (size_t)st.st_size) : -ENOMEM;
    close(fd);
    if (!err)
        err = zc_tf_parse(tf, text, (size_t)st.st_size, line);
    free(text);
    return err;
}
