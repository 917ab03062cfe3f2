/* fuzz_tf.c - any bytes as a transfer function file: parsed or refused,
 * and a parsed one is increasing with colours in [0, 1]. */
#include "zc/vol.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zc_tf tf;
    unsigned line;
    if (zc_tf_parse(&tf, (const char *)data, size, &line) != 0)
        return 0;
    if (tf.n == 0 || tf.n > ZC_TF_MAX_POINTS)
        abort();
    for (unsigned i = 0; i < tf.n; i++) {
        if (i > 0 && !(tf.value[i] > tf.value[i - 1]))
            abort();
        for (int c = 0; c < 4; c++)
            if (!(tf.rgba[i][c] >= 0 && tf.rgba[i][c] <= 1))
                abort();
    }
    return 0;
}
