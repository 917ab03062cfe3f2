/* aead.c - per-message authenticated encryption, HKDF-SHA256 and wiping.
 *
 * The idea: the cost of a small message must be the cipher's, not the
 * library's.  OpenSSL's EVP expands the key schedule when a context is given
 * a key, so each zc_aead keeps two contexts (one to seal, one to open) keyed
 * once in zc_aead_new(); a message only sets a fresh 96-bit nonce, feeds the
 * associated data and the payload, and reads or checks the tag.
 *
 *   nonce (12 bytes) = salt (4 bytes, little-endian) || counter (8 bytes, little-endian)
 *
 * The caller owns the counter and must never reuse one under a key; the salt
 * separates streams that share a key (e.g. the two directions of a session).
 */
#include "zc/crypto.h"
#include "zc/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define NONCE_BYTES 12

struct zc_aead {
    enum zc_cipher cipher;
    uint32_t salt;
    EVP_CIPHER *evp;
    EVP_CIPHER_CTX *seal; /* keyed once; per message only the nonce changes */
    EVP_CIPHER_CTX *open;
};

static bool cpu_has_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__)
    return (getauxval(AT_HWCAP) & (1UL << 3)) != 0; /* HWCAP_AES */
#else
    return false;
#endif
}

enum zc_cipher zc_cipher_default(void)
{
    const char *env = getenv("ZC_CIPHER");
    if (env && strcmp(env, "aes") == 0)
        return ZC_CIPHER_AES256GCM;
    if (env && strcmp(env, "chacha") == 0)
        return ZC_CIPHER_CHACHA20POLY1305;
    return cpu_has_aes() ? ZC_CIPHER_AES256GCM : ZC_CIPHER_CHACHA20POLY1305;
}

const char *zc_cipher_name(enum zc_cipher c)
{
    switch (c) {
    case ZC_CIPHER_AES256GCM:
        return "aes-256-gcm";
    case ZC_CIPHER_CHACHA20POLY1305:
        return "chacha20-poly1305";
    }
    return "unknown";
}

static void make_nonce(const struct zc_aead *a, uint64_t counter, uint8_t nonce[NONCE_BYTES])
{
    for (int i = 0; i < 4; i++)
        nonce[i] = (uint8_t)(a->salt >> (8 * i));
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

int zc_aead_new(struct zc_aead **out, enum zc_cipher c, const uint8_t key[ZC_KEY_BYTES],
                uint32_t salt)
{
    const char *name;
    switch (c) {
    case ZC_CIPHER_AES256GCM:
        name = "AES-256-GCM";
        break;
    case ZC_CIPHER_CHACHA20POLY1305:
        name = "ChaCha20-Poly1305";
        break;
    default:
        return -EINVAL;
    }
    struct zc_aead *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->cipher = c;
    a->salt = salt;
    a->evp = EVP_CIPHER_fetch(NULL, name, NULL);
    a->seal = EVP_CIPHER_CTX_new();
    a->open = EVP_CIPHER_CTX_new();
    if (!a->evp || !a->seal || !a->open ||
        EVP_EncryptInit_ex2(a->seal, a->evp, key, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(a->open, a->evp, key, NULL, NULL) != 1) {
        zc_aead_free(a);
        return -ENOMEM;
    }
    *out = a;
    return 0;
}

void zc_aead_free(struct zc_aead *a)
{
    if (!a)
        return;
    EVP_CIPHER_CTX_free(a->seal);
    EVP_CIPHER_CTX_free(a->open);
    EVP_CIPHER_free(a->evp);
    free(a);
}

/* EVP takes int lengths: feed large buffers in pieces. */
#define EVP_STEP ((size_t)1 << 30)

static int feed_ad(EVP_CIPHER_CTX *ctx, const void *ad, size_t adlen)
{
    const uint8_t *p = ad;
    while (adlen) {
        int n = (int)ZC_MIN(adlen, EVP_STEP), outl;
        if (EVP_CipherUpdate(ctx, NULL, &outl, p, n) != 1)
            return -EIO;
        p += n;
        adlen -= (size_t)n;
    }
    return 0;
}

static int feed_data(EVP_CIPHER_CTX *ctx, const void *in, void *out, size_t len)
{
    const uint8_t *p = in;
    uint8_t *q = out;
    while (len) {
        int n = (int)ZC_MIN(len, EVP_STEP), outl;
        if (EVP_CipherUpdate(ctx, q, &outl, p, n) != 1 || outl != n)
            return -EIO;
        p += n;
        q += n;
        len -= (size_t)n;
    }
    return 0;
}

static int start(struct zc_aead *a, EVP_CIPHER_CTX *ctx, uint64_t counter, const void *ad,
                 size_t adlen)
{
    uint8_t nonce[NONCE_BYTES];
    make_nonce(a, counter, nonce);
    if (EVP_CipherInit_ex2(ctx, NULL, NULL, nonce, -1, NULL) != 1)
        return -EIO;
    return feed_ad(ctx, ad, adlen);
}

int zc_aead_seal_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen)
{
    return start(a, a->seal, counter, ad, adlen);
}

int zc_aead_seal_update(struct zc_aead *a, const void *in, void *out, size_t len)
{
    return feed_data(a->seal, in, out, len);
}

int zc_aead_seal_finish(struct zc_aead *a, uint8_t tag[ZC_TAG_BYTES])
{
    int outl;
    uint8_t last[16];
    if (EVP_EncryptFinal_ex(a->seal, last, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->seal, EVP_CTRL_AEAD_GET_TAG, ZC_TAG_BYTES, tag) != 1)
        return -EIO;
    return 0;
}

int zc_aead_open_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen)
{
    return start(a, a->open, counter, ad, adlen);
}

int zc_aead_open_update(struct zc_aead *a, const void *in, void *out, size_t len)
{
    return feed_data(a->open, in, out, len);
}

int zc_aead_open_finish(struct zc_aead *a, const uint8_t tag[ZC_TAG_BYTES])
{
    int outl;
    uint8_t last[16];
    uint8_t t[ZC_TAG_BYTES];
    memcpy(t, tag, sizeof(t)); /* the tag may live in shared memory: read it once */
    if (EVP_CIPHER_CTX_ctrl(a->open, EVP_CTRL_AEAD_SET_TAG, ZC_TAG_BYTES, t) != 1)
        return -EIO;
    if (EVP_DecryptFinal_ex(a->open, last, &outl) != 1)
        return -EBADMSG;
    return 0;
}

int zc_aead_seal(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *in,
                 void *out, size_t len, uint8_t tag[ZC_TAG_BYTES])
{
    int r = zc_aead_seal_begin(a, counter, ad, adlen);
    if (!r)
        r = zc_aead_seal_update(a, in, out, len);
    if (!r)
        r = zc_aead_seal_finish(a, tag);
    return r;
}

int zc_aead_open(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *in,
                 void *out, size_t len, const uint8_t tag[ZC_TAG_BYTES])
{
    int r = zc_aead_open_begin(a, counter, ad, adlen);
    if (!r)
        r = zc_aead_open_update(a, in, out, len);
    if (!r)
        r = zc_aead_open_finish(a, tag);
    return r;
}

int zc_aead_mac(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen, const void *data,
                size_t len, uint8_t tag[ZC_TAG_BYTES])
{
    int r = zc_aead_seal_begin(a, counter, ad, adlen);
    if (!r)
        r = feed_ad(a->seal, data, len);
    if (!r)
        r = zc_aead_seal_finish(a, tag);
    return r;
}

int zc_aead_verify(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen,
                   const void *data, size_t len, const uint8_t tag[ZC_TAG_BYTES])
{
    int r = zc_aead_open_begin(a, counter, ad, adlen);
    if (!r)
        r = feed_ad(a->open, data, len);
    if (!r)
        r = zc_aead_open_finish(a, tag);
    return r;
}

int zc_hkdf(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen, const void *info,
            size_t infolen, void *out, size_t outlen)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return -ENOSYS;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -ENOMEM;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
    if (saltlen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (infolen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    int r = EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -EINVAL;
    EVP_KDF_CTX_free(ctx);
    return r;
}

void zc_wipe(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}
