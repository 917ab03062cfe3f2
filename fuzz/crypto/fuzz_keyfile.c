/* fuzz_keyfile.c - the key-line and authorized-list parsers on any bytes. */
#include "zc/crypto.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zc_pubkey pk, *keys = NULL;
    size_t n = 0;
    char line[96];
    if (zc_pubkey_parse((const char *)data, size, &pk) == 0 &&
        zc_pubkey_format(&pk, line, sizeof(line)) != 0)
        abort();
    if (zc_pubkey_parse_list((const char *)data, size, &keys, &n) == 0 && n && !keys)
        abort();
    free(keys);
    return 0;
}
