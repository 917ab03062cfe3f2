/* fuzz_place_wire.c - everything place parses before a tag is checked, or
 * right after from a peer that holds a valid key: frame headers, OPEN
 * payloads (with their path checks) and ERROR payloads.  Invariants: a
 * decoded header re-encodes to the same bytes, and an accepted path never
 * names "..", ".", an absolute path or the server's own temporary files. */
#include "wire.h"
#include "conn.h"

#include <stdlib.h>
#include <string.h>

static void check_path(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || p[0] == '/' || strstr(p, "//") || p[n - 1] == '/')
        abort();
    if (!strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
        (n >= 3 && !strcmp(p + n - 3, "/..")))
        abort();
    if (!strncmp(p, ".zc-", 4) || strstr(p, "/.zc-"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= PLACE_HDR_BYTES) {
        struct place_hdr h;
        if (place_hdr_decode(data, &h) == 0) {
            uint8_t again[PLACE_HDR_BYTES];
            place_hdr_encode(&h, again);
            if (memcmp(again, data, PLACE_HDR_BYTES) != 0)
                abort();
        }
    }
    static struct place_open o;
    if (place_open_decode(data, size, &o) == 0) {
        check_path(o.path);
        if (o.mode & ~0777u || o.mtime_nsec >= 1000000000u)
            abort();
    }
    int err;
    char msg[64];
    place_error_decode(data, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size), &err, msg,
                       sizeof(msg));
    if (err <= 0 || strlen(msg) >= sizeof(msg))
        abort();
    return 0;
}
