/* test_aead.c - AEAD and HKDF against published vectors, and the AEAD's
 * failure paths: every flipped bit of ciphertext, tag, associated data or
 * nonce is refused; chunked and one-shot forms agree. */
#include "zc_test.h"
#include "zc/base.h"
#include "aead_impl.h"
#include "zc/crypto.h"

#include <errno.h>
#include <stdint.h>

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        CHECK(sscanf(s, "%2x", &v) == 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* RFC 5869, test cases 1 and 3 (SHA-256). */
static void test_hkdf_rfc5869(void)
{
    uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
    memset(ikm, 0x0b, sizeof(ikm));
    for (int i = 0; i < 13; i++)
        salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++)
        info[i] = (uint8_t)(0xf0 + i);
    CHECK_OK(zc_hkdf(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info), okm, sizeof(okm)));
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
          want);
    CHECK(memcmp(okm, want, sizeof(okm)) == 0);

    CHECK_OK(zc_hkdf(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, sizeof(okm)));
    unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
          want);
    CHECK(memcmp(okm, want, sizeof(okm)) == 0);
}

struct vector {
    enum zc_cipher cipher;
    const char *key, *ad, *plain, *cipher_text, *tag;
    uint32_t salt;
    uint64_t counter;
};

/* The nonce is salt (LE32) || counter (LE64), so the published nonces are
 * written here as their salt and counter. */
static const struct vector vectors[] = {
    /* GCM specification, test case 14: zero key, zero nonce, one zero block. */
    {ZC_CIPHER_AES256GCM, "0000000000000000000000000000000000000000000000000000000000000000", "",
     "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919", 0, 0},
    /* GCM specification, test case 16: nonce cafebabe facedbaddecaf888. */
    {ZC_CIPHER_AES256GCM, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
     "49a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
     "56828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b", 0xbebafeca, 0x88f8cadeaddbcefaull},
    /* RFC 8439 section 2.8.2: nonce 07000000 4041424344454647. */
    {ZC_CIPHER_CHACHA20POLY1305, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "50515253c0c1c2c3c4c5c6c7",
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a204966"
     "204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074686520667574"
     "7572652c2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
     "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
     "5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691", 7, 0x4746454443424140ull},
};

static void test_known_answers(void)
{
    for (size_t v = 0; v < ZC_ARRAY_SIZE(vectors); v++) {
        const struct vector *t = &vectors[v];
        uint8_t key[32], ad[64], plain[256], ct[256], tag[16], out[256], got_tag[16];
        CHECK_EQ(unhex(t->key, key), 32);
        size_t adlen = unhex(t->ad, ad), len = unhex(t->plain, plain);
        CHECK_EQ(unhex(t->cipher_text, ct), len);
        CHECK_EQ(unhex(t->tag, tag), 16);
        struct zc_aead *a;
        CHECK_OK(zc_aead_new(&a, t->cipher, key, t->salt));
        CHECK_OK(zc_aead_seal(a, t->counter, ad, adlen, plain, out, len, got_tag));
        CHECK(memcmp(out, ct, len) == 0);
        CHECK(memcmp(got_tag, tag, 16) == 0);
        memset(out, 0, sizeof(out));
        CHECK_OK(zc_aead_open(a, t->counter, ad, adlen, ct, out, len, tag));
        CHECK(memcmp(out, plain, len) == 0);
        /* The same message, decrypted in 7-byte pieces. */
        CHECK_OK(zc_aead_open_begin(a, t->counter, ad, adlen));
        for (size_t off = 0; off < len; off += 7)
            CHECK_OK(zc_aead_open_update(a, ct + off, out + off, ZC_MIN(7, len - off)));
        CHECK_OK(zc_aead_open_finish(a, tag));
        CHECK(memcmp(out, plain, len) == 0);
        zc_aead_free(a);
    }
}

static void test_tamper(enum zc_cipher c)
{
    uint8_t key[32], ad[13] = "header-bytes", msg[100], ct[100], out[100], tag[16];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < 100; i++)
        msg[i] = (uint8_t)i;
    struct zc_aead *a;
    CHECK_OK(zc_aead_new(&a, c, key, 0x55));
    CHECK_OK(zc_aead_seal(a, 42, ad, sizeof(ad), msg, ct, sizeof(msg), tag));
    CHECK(memcmp(ct, msg, sizeof(msg)) != 0);
    CHECK_OK(zc_aead_open(a, 42, ad, sizeof(ad), ct, out, sizeof(ct), tag));
    CHECK(memcmp(out, msg, sizeof(msg)) == 0);
    for (size_t bit = 0; bit < 8 * sizeof(ct); bit++) {
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK_EQ(zc_aead_open(a, 42, ad, sizeof(ad), ct, out, sizeof(ct), tag), -EBADMSG);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sizeof(tag); bit++) {
        tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK_EQ(zc_aead_open(a, 42, ad, sizeof(ad), ct, out, sizeof(ct), tag), -EBADMSG);
        tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sizeof(ad); bit++) {
        ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK_EQ(zc_aead_open(a, 42, ad, sizeof(ad), ct, out, sizeof(ct), tag), -EBADMSG);
        ad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Another counter (replay at another position), another salt, a
     * truncated message: all refused. */
    CHECK_EQ(zc_aead_open(a, 43, ad, sizeof(ad), ct, out, sizeof(ct), tag), -EBADMSG);
    CHECK_EQ(zc_aead_open(a, 42, ad, sizeof(ad), ct, out, sizeof(ct) - 1, tag), -EBADMSG);
    struct zc_aead *b;
    CHECK_OK(zc_aead_new(&b, c, key, 0x56));
    CHECK_EQ(zc_aead_open(b, 42, ad, sizeof(ad), ct, out, sizeof(ct), tag), -EBADMSG);
    zc_aead_free(b);

    /* In place, and the integrity-only form. */
    memcpy(out, msg, sizeof(msg));
    CHECK_OK(zc_aead_seal(a, 7, NULL, 0, out, out, sizeof(out), tag));
    CHECK_OK(zc_aead_open(a, 7, NULL, 0, out, out, sizeof(out), tag));
    CHECK(memcmp(out, msg, sizeof(msg)) == 0);
    CHECK_OK(zc_aead_mac(a, 9, ad, sizeof(ad), msg, sizeof(msg), tag));
    CHECK_OK(zc_aead_verify(a, 9, ad, sizeof(ad), msg, sizeof(msg), tag));
    msg[50] ^= 1;
    CHECK_EQ(zc_aead_verify(a, 9, ad, sizeof(ad), msg, sizeof(msg), tag), -EBADMSG);
    msg[50] ^= 1;
    CHECK_EQ(zc_aead_verify(a, 10, ad, sizeof(ad), msg, sizeof(msg), tag), -EBADMSG);
    zc_aead_free(a);
}

static void test_aes_gcm_tamper(void)
{
    test_tamper(ZC_CIPHER_AES256GCM);
}

static void test_chacha_tamper(void)
{
    test_tamper(ZC_CIPHER_CHACHA20POLY1305);
}

static void test_cipher_choice(void)
{
    setenv("ZC_CIPHER", "chacha", 1);
    CHECK_EQ(zc_cipher_default(), ZC_CIPHER_CHACHA20POLY1305);
    setenv("ZC_CIPHER", "aes", 1);
    CHECK_EQ(zc_cipher_default(), ZC_CIPHER_AES256GCM);
    unsetenv("ZC_CIPHER");
    CHECK(strcmp(zc_cipher_name(ZC_CIPHER_AES256GCM), "aes-256-gcm") == 0);
    CHECK(strcmp(zc_cipher_name(ZC_CIPHER_CHACHA20POLY1305), "chacha20-poly1305") == 0);
    struct zc_aead *a;
    uint8_t key[32] = {0};
    CHECK_EQ(zc_aead_new(&a, (enum zc_cipher)9, key, 0), -EINVAL);
}

/* Seals, MACs and opens with a's and b's code alike: every length around
 * the block and piece edges, associated data short enough for the fast
 * path and longer (OpenSSL then), data fed in one go and in odd pieces.
 * Each must produce the other's bytes and accept the other's tags. */
static void cross_check(struct zc_aead *a, struct zc_aead *b)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 100, 4096, (128u << 10) + 5};
    static const size_t adlens[] = {0, 13, 32, 64, 65, 200};
    static uint8_t msg[(128u << 10) + 5], ct_a[sizeof(msg)], ct_b[sizeof(msg)], out[sizeof(msg)];
    uint8_t ad[200], tag_a[16], tag_b[16];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 131 + 7);
    for (size_t i = 0; i < sizeof(ad); i++)
        ad[i] = (uint8_t)(i ^ 0x5a);
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        for (size_t ai = 0; ai < sizeof(adlens) / sizeof(adlens[0]); ai++) {
            size_t len = lens[li], adlen = adlens[ai];
            uint64_t n = 1000 + li * 10 + ai;
            CHECK_OK(zc_aead_seal(a, n, ad, adlen, msg, ct_a, len, tag_a));
            CHECK_OK(zc_aead_seal_begin(b, n, ad, adlen));
            for (size_t off = 0; off < len; off += 4099)
                CHECK_OK(zc_aead_seal_update(b, msg + off, ct_b + off, ZC_MIN(4099, len - off)));
            CHECK_OK(zc_aead_seal_finish(b, tag_b));
            CHECK(memcmp(ct_a, ct_b, len) == 0);
            CHECK(memcmp(tag_a, tag_b, 16) == 0);
            CHECK_OK(zc_aead_open(b, n, ad, adlen, ct_a, out, len, tag_a));
            CHECK(memcmp(out, msg, len) == 0);
            CHECK_OK(zc_aead_open(a, n, ad, adlen, ct_b, out, len, tag_b));
            if (len) {
                ct_a[len / 2] ^= 0x10;
                CHECK_EQ(zc_aead_open(b, n, ad, adlen, ct_a, out, len, tag_a), -EBADMSG);
                CHECK_EQ(zc_aead_open(a, n, ad, adlen, ct_a, out, len, tag_a), -EBADMSG);
            }

            /* Integrity only: one call on a, odd pieces on b. */
            CHECK_OK(zc_aead_mac(a, n, ad, adlen, msg, len, tag_a));
            CHECK_OK(zc_aead_seal_begin(b, n, ad, adlen));
            for (size_t off = 0; off < len; off += 1000)
                CHECK_OK(zc_aead_mac_update(b, msg + off, ZC_MIN(1000, len - off)));
            CHECK_OK(zc_aead_seal_finish(b, tag_b));
            CHECK(memcmp(tag_a, tag_b, 16) == 0);
            CHECK_OK(zc_aead_open_begin(a, n, ad, adlen));
            for (size_t off = 0; off < len; off += 777)
                CHECK_OK(zc_aead_verify_update(a, msg + off, ZC_MIN(777, len - off)));
            CHECK_OK(zc_aead_open_finish(a, tag_b));
            CHECK_OK(zc_aead_verify(b, n, ad, adlen, msg, len, tag_a));
            tag_a[3] ^= 1;
            CHECK_EQ(zc_aead_verify(b, n, ad, adlen, msg, len, tag_a), -EBADMSG);
            CHECK_EQ(zc_aead_verify(a, n, ad, adlen, msg, len, tag_a), -EBADMSG);
            /* A MAC is not a seal of nothing but ad || data. */
            if (len && adlen) {
                CHECK_OK(zc_aead_seal(a, n, ad, adlen, NULL, NULL, 0, tag_b));
                CHECK(memcmp(tag_a, tag_b, 16) != 0);
            }
        }
    }
}

/* AES-256-GCM through ipsec-mb (where built in and the CPU suits it) and
 * through OpenSSL give the same bytes; so do two ChaCha20-Poly1305 keys. */
static void test_backends_agree(void)
{
    uint8_t key[32];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(3 * i + 1);
    struct zc_aead *fast, *ossl;
    CHECK_OK(zc_aead_new(&fast, ZC_CIPHER_AES256GCM, key, 0x01020304));
    CHECK_OK(zc_aead_new_impl(&ossl, ZC_CIPHER_AES256GCM, key, 0x01020304, true));
    CHECK(strcmp(zc_aead_impl(ossl), "openssl") == 0);
    fprintf(stderr, "    aes-256-gcm: %s against openssl\n", zc_aead_impl(fast));
    cross_check(fast, ossl);
    cross_check(ossl, fast);
    zc_aead_free(fast);
    zc_aead_free(ossl);

    CHECK_OK(zc_aead_new(&fast, ZC_CIPHER_CHACHA20POLY1305, key, 9));
    CHECK_OK(zc_aead_new(&ossl, ZC_CIPHER_CHACHA20POLY1305, key, 9));
    CHECK(strcmp(zc_aead_impl(fast), "openssl") == 0);
    cross_check(fast, ossl);
    zc_aead_free(fast);
    zc_aead_free(ossl);
}

int main(void)
{
    RUN(test_hkdf_rfc5869);
    RUN(test_known_answers);
    RUN(test_aes_gcm_tamper);
    RUN(test_chacha_tamper);
    RUN(test_cipher_choice);
    RUN(test_backends_agree);
    return 0;
}
