/* aead_impl.h - choosing the code behind one AEAD key, for the parts and
 * programs built with this tree (the sealed channel, its benchmark and the
 * tests); not part of the library's API (src/zc.map keeps it local).
 */
#ifndef ZC_CRYPTO_AEAD_IMPL_H
#define ZC_CRYPTO_AEAD_IMPL_H

#include "zc/crypto.h"

#include <stdbool.h>

/* zc_aead_new() that keeps this key to OpenSSL when openssl is set (the
 * sealed channel does: see docs/BENCHMARKS.md, seal; the tests and the
 * benchmarks compare the two this way). */
int zc_aead_new_impl(struct zc_aead **out, enum zc_cipher c, const uint8_t key[ZC_KEY_BYTES],
                     uint32_t salt, bool openssl);

#endif
