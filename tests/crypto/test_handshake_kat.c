/* test_handshake_kat.c - the handshake's bytes against an independent
 * implementation.
 *
 * handshake_kat.py computes the initiation, the response, both transport
 * keys and the transcript with python3-cryptography from the protocol
 * document alone; this test drives src/crypto's steps (noise.h) with the
 * same fixed static keys, ephemerals, timestamp and prologue and compares
 * every byte, with the script's output and with the bytes printed in
 * docs/PROTOCOL.md (below).  A mistake made the same way on both sides of
 * src/crypto's own handshake cannot pass here.
 */
#include "zc_test.h"
#include "noise.h"
#include "zc/base.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/evp.h>

/* docs/PROTOCOL.md, "Known answer". */
static const char *const expected[][2] = {
    {"initiation",
     "0101000064b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d4846661af09c0e3d49c2789bb"
     "36dd449e72cb7d54bdcc7f3529371cb5c08b6ecfbcea51a1f7d390eb23422aaf51460d47104812e81541d62d9848"
     "f90f642d210be6f7fa2303a54fb15aaf0d43a37c"},
    {"response", "02010000244fe3b963e899dd295baffce248d3530f3a9a7479ba063002680ebfe7adad49c6a54c0c"
                 "661639ddbc511f1f204ce82b"},
    {"initiator_to_responder", "ac90b975750633e67948fbee1eb7a6286496271de1e9a61d75b430520be3d429"},
    {"responder_to_initiator", "fdf3e1bae3c997f04631217a2cde06227f37630de7a516bf0ef728458d8e8350"},
    {"transcript", "46b857386e192f3a9ce4d6a8f122eb30131e1fe622cd0fadddfda6545c59ede1"},
};

/* A key pair from fixed private bytes first, first + 1, ... */
static struct zc_keypair fixed_keypair(uint8_t first)
{
    struct zc_keypair kp;
    for (int i = 0; i < ZC_KEY_BYTES; i++)
        kp.priv[i] = (uint8_t)(first + i);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, kp.priv, ZC_KEY_BYTES);
    size_t len = ZC_KEY_BYTES;
    CHECK(k && EVP_PKEY_get_raw_public_key(k, kp.pub, &len) == 1 && len == ZC_KEY_BYTES);
    EVP_PKEY_free(k);
    return kp;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* The script's line for name (its hex) into out. */
static void script_value(const char *script, const char *name, char *out, size_t outlen)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s", script);
    FILE *f = popen(cmd, "r");
    CHECK(f);
    char line[512], key[64], hex[300];
    out[0] = '\0';
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%63s %299s", key, hex) == 2 && strcmp(key, name) == 0)
            snprintf(out, outlen, "%s", hex);
    int st = pclose(f);
    if (st != 0)
        fprintf(stderr, "%s failed (needs /usr/bin/python3 with python3-cryptography)\n", cmd);
    CHECK(st == 0);
}

static void check_value(const char *script, const char *name, const uint8_t *bytes, size_t n)
{
    char ours[300], theirs[300];
    to_hex(bytes, n, ours);
    script_value(script, name, theirs, sizeof(theirs));
    const char *doc = NULL;
    for (size_t i = 0; i < ZC_ARRAY_SIZE(expected); i++)
        if (strcmp(expected[i][0], name) == 0)
            doc = expected[i][1];
    if (strcmp(ours, theirs) || !doc || strcmp(ours, doc))
        fprintf(stderr, "%s\n  src/crypto: %s\n  python:     %s\n  documented: %s\n", name, ours,
                theirs, doc ? doc : "?");
    CHECK(strcmp(ours, theirs) == 0);
    CHECK(doc && strcmp(ours, doc) == 0);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2); /* the path of handshake_kat.py */
    const struct zc_keypair s_i = fixed_keypair(0x01), s_r = fixed_keypair(0x21);
    const struct zc_keypair e_i = fixed_keypair(0x41), e_r = fixed_keypair(0x61);
    const uint8_t ts[ZC_TIMESTAMP_BYTES] = {0x40, 0,    0,    0,    0x65, 0x53,
                                            0xf1, 0x0a, 0x07, 0x5b, 0xcd, 0x15};
    static const char prologue[] = "zc-place/1";
    struct zc_handshake ini = {0}, resp = {0};
    uint8_t init[ZC_HANDSHAKE_INITIATION_BYTES], answer[ZC_HANDSHAKE_RESPONSE_BYTES];
    struct zc_session si, sr;

    memcpy(ini.rs, s_r.pub, ZC_KEY_BYTES);
    CHECK_OK(noise_init(&ini, ZC_CIPHER_AES256GCM, prologue, strlen(prologue), s_r.pub));
    CHECK_OK(noise_write_initiation(&ini, &s_i, &e_i, ts, init));
    CHECK_OK(noise_init(&resp, ZC_CIPHER_AES256GCM, prologue, strlen(prologue), s_r.pub));
    CHECK_OK(noise_read_initiation(&resp, &s_r, init));
    CHECK(memcmp(resp.rs, s_i.pub, ZC_KEY_BYTES) == 0);
    CHECK(memcmp(resp.timestamp, ts, sizeof(ts)) == 0);
    CHECK_OK(noise_write_response(&resp, &e_r, answer));
    CHECK_OK(noise_read_response(&ini, &s_i, answer));
    CHECK_OK(noise_split(&ini, &si, true));
    CHECK_OK(noise_split(&resp, &sr, false));
    CHECK(memcmp(si.send_key, sr.recv_key, ZC_KEY_BYTES) == 0);

    check_value(argv[1], "initiation", init, sizeof(init));
    check_value(argv[1], "response", answer, sizeof(answer));
    check_value(argv[1], "initiator_to_responder", si.send_key, ZC_KEY_BYTES);
    check_value(argv[1], "responder_to_initiator", si.recv_key, ZC_KEY_BYTES);
    check_value(argv[1], "transcript", si.transcript, ZC_HASH_BYTES);
    return 0;
}
