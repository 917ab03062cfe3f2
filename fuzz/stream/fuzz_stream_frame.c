/* fuzz_stream_frame.c - the consumer's check of a frame in shared memory,
 * whatever a producer wrote there: it accepts or refuses with -EBADMSG,
 * never reads outside the frame, and a frame it accepts is exactly as long
 * as its header says and moves the expected sequence number of exactly one
 * known sensor forward. */
#include "frame.h"
#include "zc/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t kinds[3] = {ZC_SENSOR_CAMERA, ZC_SENSOR_LIDAR, ZC_SENSOR_RADAR};
    uint64_t expect[3] = {0, 5, 1u << 20}, before[3];
    struct frame_checker c = {.nsensors = 3, .kind = kinds, .expect = expect, .verify = size & 2};
    memcpy(before, expect, sizeof(before));

    /* The input is a header and the start of a payload.  The frame is as
     * long as the header's kind says (so the accepting path is reachable
     * without megabyte inputs), 8 bytes short when the input is odd-sized,
     * or just the input for an unknown kind; exactly that long, so ASan
     * sees any read past it. */
    struct zc_frame_hdr h = {0};
    memcpy(&h, data, ZC_MIN(size, sizeof(h)));
    size_t len = size;
    if (size >= sizeof(h) && zc_sensor_frame_bytes(h.kind))
        len = sizeof(h) + zc_sensor_frame_bytes(h.kind) - (size & 1 ? 8 : 0);
    unsigned char *frame = calloc(1, len ? len : 1);
    memcpy(frame, data, ZC_MIN(size, len));
    uint64_t gap = 0;
    int err = frame_check(&c, frame, len, &gap);
    free(frame);

    if (err != 0 && err != -EBADMSG)
        abort();
    unsigned moved = 0;
    for (unsigned s = 0; s < 3; s++) {
        if (expect[s] != before[s]) {
            moved++;
            if (err || expect[s] < before[s] || expect[s] - before[s] != gap + 1)
                abort();
        }
    }
    if (err == 0 && moved != 1)
        abort();
    /* An accepted frame is exactly as long as its header says. */
    if (err == 0 && len != sizeof(h) + zc_sensor_frame_bytes(h.kind))
        abort();
    return 0;
}
