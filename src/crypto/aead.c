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
 *
 * AES-256-GCM goes through Intel's ipsec-mb library where it is built in
 * and the CPU has what it needs: its VAES/AVX-512 code runs AES-GCM about
 * four times as fast as OpenSSL 3.0's and GMAC three times (bench/seal,
 * docs/BENCHMARKS.md).  The bytes are the same either way (tests/crypto
 * checks each against the other).  A message's kind is decided by its first
 * update: data to seal or open makes it GCM, data to MAC or verify makes it
 * GMAC over ad || data; a message whose ad does not fit the key's small
 * buffer goes through OpenSSL, which is always keyed too.
 */
#include "aead_impl.h"
#include "zc/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#ifdef ZC_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#endif

#define NONCE_BYTES 12
#define FAST_AD_MAX 64 /* associated data the fast path copies at begin */

enum msg_kind {
    MSG_EVP,     /* OpenSSL's context carries the message */
    MSG_PENDING, /* fast path, nothing but ad yet */
    MSG_GCM,     /* fast path, data sealed or opened */
    MSG_GMAC,    /* fast path, data MAC'd or verified */
};

#ifdef ZC_HAVE_IPSEC_MB
struct fast_msg {
    struct gcm_context_data ctx;
    enum msg_kind kind;
    uint8_t nonce[NONCE_BYTES];
    uint8_t ad[FAST_AD_MAX];
    size_t adlen;
};
#endif

struct zc_aead {
#ifdef ZC_HAVE_IPSEC_MB
    struct gcm_key_data key; /* expanded once; NULL mgr: not used */
    struct fast_msg seal_msg, open_msg;
    IMB_MGR *mgr;
#endif
    enum zc_cipher cipher;
    uint32_t salt;
    EVP_CIPHER *evp;
    EVP_CIPHER_CTX *seal; /* keyed once; per message only the nonce changes */
    EVP_CIPHER_CTX *open;
};

#ifdef ZC_HAVE_IPSEC_MB
static IMB_MGR *imb;
static pthread_once_t imb_once = PTHREAD_ONCE_INIT;

/* One manager for the process: the direct GCM calls only read its table. */
static void imb_setup(void)
{
    const char *env = getenv("ZC_AEAD_IMPL");
    if (env && strcmp(env, "openssl") == 0)
        return;
    IMB_MGR *m = alloc_mb_mgr(0);
    IMB_ARCH arch;
    if (!m)
        return;
    init_mb_mgr_auto(m, &arch);
    if (imb_get_errno(m) || arch < IMB_ARCH_AVX2) { /* below that OpenSSL is as fast */
        free_mb_mgr(m);
        return;
    }
    imb = m;
}
#endif

const char *zc_aead_impl(const struct zc_aead *a)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (a->mgr)
        return "ipsec-mb";
#endif
    (void)a;
    return "openssl";
}

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
    return zc_aead_new_impl(out, c, key, salt, false);
}

int zc_aead_new_impl(struct zc_aead **out, enum zc_cipher c, const uint8_t key[ZC_KEY_BYTES],
                     uint32_t salt, bool openssl)
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
    struct zc_aead *a = aligned_alloc(64, (sizeof(*a) + 63) & ~(size_t)63);
    if (!a)
        return -ENOMEM;
    memset(a, 0, sizeof(*a));
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
#ifdef ZC_HAVE_IPSEC_MB
    pthread_once(&imb_once, imb_setup);
    if (imb && c == ZC_CIPHER_AES256GCM && !openssl) {
        a->mgr = imb;
        IMB_AES256_GCM_PRE(imb, key, &a->key);
    }
#else
    (void)openssl;                                  /* OpenSSL is all there is */
#endif
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
    zc_wipe(a, sizeof(*a)); /* the expanded keys */
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

#ifdef ZC_HAVE_IPSEC_MB
/* Starts a fast-path message, or says to use OpenSSL (false). */
static bool fast_begin(struct zc_aead *a, struct fast_msg *m, uint64_t counter, const void *ad,
                       size_t adlen)
{
    if (!a->mgr || adlen > FAST_AD_MAX) {
        m->kind = MSG_EVP;
        return false;
    }
    make_nonce(a, counter, m->nonce);
    if (adlen)
        memcpy(m->ad, ad, adlen);
    m->adlen = adlen;
    m->kind = MSG_PENDING;
    return true;
}

/* Turns a pending message into kind, feeding what begin kept. */
static void fast_kind(struct zc_aead *a, struct fast_msg *m, enum msg_kind kind)
{
    if (m->kind != MSG_PENDING)
        return;
    m->kind = kind;
    if (kind == MSG_GCM) {
        IMB_AES256_GCM_INIT(a->mgr, &a->key, &m->ctx, m->nonce, m->ad, m->adlen);
    } else {
        IMB_AES256_GMAC_INIT(a->mgr, &a->key, &m->ctx, m->nonce, NONCE_BYTES);
        if (m->adlen)
            IMB_AES256_GMAC_UPDATE(a->mgr, &a->key, &m->ctx, m->ad, m->adlen);
    }
}

/* Feeds data of the message's kind: GCM sealing or opening, or GMAC. */
static int fast_update(struct zc_aead *a, struct fast_msg *m, enum msg_kind kind, bool seal,
                       const void *in, void *out, size_t len)
{
    if (!len)
        return 0;
    fast_kind(a, m, kind);
    if (m->kind != kind)
        return -EINVAL; /* MAC data after sealed data, or the reverse */
    if (kind == MSG_GMAC)
        IMB_AES256_GMAC_UPDATE(a->mgr, &a->key, &m->ctx, in, len);
    else if (seal)
        IMB_AES256_GCM_ENC_UPDATE(a->mgr, &a->key, &m->ctx, out, in, len);
    else
        IMB_AES256_GCM_DEC_UPDATE(a->mgr, &a->key, &m->ctx, out, in, len);
    return 0;
}

static void fast_finish(struct zc_aead *a, struct fast_msg *m, bool seal, uint8_t tag[ZC_TAG_BYTES])
{
    fast_kind(a, m, MSG_GCM); /* nothing but ad: GCM and GMAC agree */
    if (m->kind == MSG_GMAC)
        IMB_AES256_GMAC_FINALIZE(a->mgr, &a->key, &m->ctx, tag, ZC_TAG_BYTES);
    else if (seal)
        IMB_AES256_GCM_ENC_FINALIZE(a->mgr, &a->key, &m->ctx, tag, ZC_TAG_BYTES);
    else
        IMB_AES256_GCM_DEC_FINALIZE(a->mgr, &a->key, &m->ctx, tag, ZC_TAG_BYTES);
    zc_wipe(&m->ctx, sizeof(m->ctx));
}
#define FAST(m) ((m).kind != MSG_EVP)
#endif

int zc_aead_seal_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (fast_begin(a, &a->seal_msg, counter, ad, adlen))
        return 0;
#endif
    return start(a, a->seal, counter, ad, adlen);
}

int zc_aead_seal_update(struct zc_aead *a, const void *in, void *out, size_t len)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->seal_msg))
        return fast_update(a, &a->seal_msg, MSG_GCM, true, in, out, len);
#endif
    return feed_data(a->seal, in, out, len);
}

int zc_aead_mac_update(struct zc_aead *a, const void *data, size_t len)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->seal_msg))
        return fast_update(a, &a->seal_msg, MSG_GMAC, true, data, NULL, len);
#endif
    return feed_ad(a->seal, data, len);
}

int zc_aead_seal_finish(struct zc_aead *a, uint8_t tag[ZC_TAG_BYTES])
{
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->seal_msg)) {
        fast_finish(a, &a->seal_msg, true, tag);
        return 0;
    }
#endif
    int outl;
    uint8_t last[16];
    if (EVP_EncryptFinal_ex(a->seal, last, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->seal, EVP_CTRL_AEAD_GET_TAG, ZC_TAG_BYTES, tag) != 1)
        return -EIO;
    return 0;
}

int zc_aead_open_begin(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (fast_begin(a, &a->open_msg, counter, ad, adlen))
        return 0;
#endif
    return start(a, a->open, counter, ad, adlen);
}

int zc_aead_open_update(struct zc_aead *a, const void *in, void *out, size_t len)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->open_msg))
        return fast_update(a, &a->open_msg, MSG_GCM, false, in, out, len);
#endif
    return feed_data(a->open, in, out, len);
}

int zc_aead_verify_update(struct zc_aead *a, const void *data, size_t len)
{
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->open_msg))
        return fast_update(a, &a->open_msg, MSG_GMAC, false, data, NULL, len);
#endif
    return feed_ad(a->open, data, len);
}

int zc_aead_open_finish(struct zc_aead *a, const uint8_t tag[ZC_TAG_BYTES])
{
    uint8_t t[ZC_TAG_BYTES];
    memcpy(t, tag, sizeof(t)); /* the tag may live in shared memory: read it once */
#ifdef ZC_HAVE_IPSEC_MB
    if (FAST(a->open_msg)) {
        uint8_t want[ZC_TAG_BYTES];
        fast_finish(a, &a->open_msg, false, want);
        int r = CRYPTO_memcmp(want, t, sizeof(t)) ? -EBADMSG : 0;
        zc_wipe(want, sizeof(want));
        return r;
    }
#endif
    int outl;
    uint8_t last[16];
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
        r = zc_aead_mac_update(a, data, len);
    if (!r)
        r = zc_aead_seal_finish(a, tag);
    return r;
}

int zc_aead_verify(struct zc_aead *a, uint64_t counter, const void *ad, size_t adlen,
                   const void *data, size_t len, const uint8_t tag[ZC_TAG_BYTES])
{
    int r = zc_aead_open_begin(a, counter, ad, adlen);
    if (!r)
        r = zc_aead_verify_update(a, data, len);
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
