/* fuzz_seal_receive.c - a hostile broker and peer against a sealed-channel
 * receiver, checked against a model.
 *
 * The target plays broker and side 0 at once: it makes the two rings, hands
 * them to a real endpoint (side 1), runs the handshake with it, and so holds
 * the session key.  The input then says what to put in each ring buffer:
 *
 *   op % 4 == 0   a valid message (len, bytes)
 *   op % 4 == 1   raw bytes (len, bytes), no seal at all
 *   op % 4 == 2   a valid message with one bit flipped (len, bytes, position)
 *   op % 4 == 3   a message correctly sealed over a made-up header
 *                 (counter skew, length, type, descriptor slack), or one
 *                 whose type is changed after sealing
 *
 * After each buffer the endpoint receives once.  The model says whether that
 * message must be delivered (then byte for byte), end the stream, or be
 * refused; any other outcome aborts.  A refusal ends the input's run, since
 * the channel then stays closed.
 */
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/ring.h"
#include "zc/seal.h"
#include "zc/shm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS     8
#define MAX_MSG   256
#define SLOT_SIZE 320 /* round_up(MAX_MSG + 32, 64), as the endpoint computes it */

struct peer {
    struct zc_ring *out; /* driver: our messages to the endpoint */
    struct zc_ring *in;  /* device: its messages to us */
    uint32_t next_slot;
};

struct endpoint {
    int sock;
    struct zc_seal *s;
    int result;
};

static struct zc_keypair side0, side1;
static struct zc_pubkey side0_pub, side1_pub;

/* Each buffer is consumed before the next is posted, so slots can rotate;
 * reaping keeps the driver's descriptors free. */
static int post(struct peer *p, const void *bytes, uint32_t len, uint32_t desc_len)
{
    struct zc_ring_used used[SLOTS];
    zc_ring_reap(p->out, used, SLOTS);
    uint32_t slot = p->next_slot++ % SLOTS;
    uint8_t *dst = (uint8_t *)zc_ring_buf_base(p->out) + (size_t)slot * SLOT_SIZE;
    memset(dst, 0, SLOT_SIZE);
    memcpy(dst, bytes, ZC_MIN(len, (uint32_t)SLOT_SIZE));
    struct zc_ring_seg seg = {.off = (uint64_t)slot * SLOT_SIZE, .len = desc_len};
    return zc_ring_post(p->out, &seg, 1, (void *)(uintptr_t)(slot + 1));
}

static int peer_send_all(void *ctx, const void *buf, size_t len)
{
    return post(ctx, buf, (uint32_t)len, (uint32_t)len);
}

static int peer_recv_all(void *ctx, void *buf, size_t len)
{
    struct peer *p = ctx;
    struct zc_ring_chain c;
    for (;;) {
        int n = zc_ring_pop(p->in, &c);
        if (n < 0)
            return n;
        if (n == 1)
            break;
        int r = zc_ring_wait(p->in, 5000000000ll);
        if (r)
            return r;
    }
    if (c.readable_len != len || c.nseg != 1)
        return -EBADMSG;
    memcpy(buf, zc_ring_ptr(p->in, &c.seg[0]), len);
    zc_ring_push(p->in, c.head, 0);
    return zc_ring_complete(p->in) < 0 ? -EPROTO : 0;
}

static void *endpoint_main(void *arg)
{
    struct endpoint *e = arg;
    e->result = zc_seal_connect(&e->s, e->sock, getuid(), &side1, &side0_pub, 5000000000ll);
    return NULL;
}

/* Hands the endpoint its rings over sock (as a broker would). */
static int grant(struct peer *p, int sock)
{
    struct zc_ring_params prm = {.num = SLOTS, .buf_size = SLOTS * SLOT_SIZE};
    uint32_t hello[4] = {0x3173637a, 1, SLOTS, MAX_MSG};
    int r = zc_ring_create(&p->out, ZC_RING_DRIVER, &prm);
    if (!r)
        r = zc_ring_create(&p->in, ZC_RING_DEVICE, &prm);
    if (!r)
        r = zc_shm_send_fds(sock, hello, sizeof(hello), NULL, 0);
    if (!r)
        r = zc_ring_send(p->in, sock); /* the endpoint's outbound ring */
    if (!r)
        r = zc_ring_send(p->out, sock); /* its inbound ring */
    return r;
}

struct input {
    const uint8_t *p;
    size_t left;
};

static uint8_t next(struct input *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

/* A message sealed under hdr (16 bytes, counter first) with len payload bytes. */
static size_t seal(struct zc_aead *a, const uint8_t hdr[16], const uint8_t *payload, size_t len,
                   uint8_t *out)
{
    uint64_t counter;
    memcpy(&counter, hdr, 8);
    memcpy(out, hdr, 16);
    zc_aead_seal(a, counter, hdr, 16, payload, out + 16, len, out + 16 + len);
    return len + 32;
}

static void header(uint8_t hdr[16], uint64_t counter, uint32_t len, uint16_t type)
{
    memset(hdr, 0, 16);
    memcpy(hdr, &counter, 8);
    memcpy(hdr + 8, &len, 4);
    memcpy(hdr + 12, &type, 2);
}

static void play(struct peer *p, struct zc_seal *s, struct zc_aead *a, struct input *in)
{
    uint64_t counter = 0;
    uint8_t payload[MAX_MSG], msg[SLOT_SIZE], hdr[16], got[MAX_MSG];
    while (in->left) {
        uint8_t op = next(in) % 4;
        uint32_t len = next(in), desc_len;
        enum { DELIVER, END, REFUSE } expect = REFUSE;
        for (uint32_t i = 0; i < len; i++)
            payload[i] = next(in);
        size_t n = 0;
        if (op == 0) {
            header(hdr, counter, len, 1);
            n = seal(a, hdr, payload, len, msg);
            expect = DELIVER;
        } else if (op == 1) {
            memcpy(msg, payload, len);
            n = len;
        } else if (op == 2) {
            header(hdr, counter, len, 1);
            n = seal(a, hdr, payload, len, msg);
            uint32_t bit = ((uint32_t)next(in) << 8 | next(in)) % (uint32_t)(8 * n);
            msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        } else {
            int8_t skew = (int8_t)next(in);
            uint8_t t = next(in);
            uint16_t type = t % 4;
            int8_t slack = (int8_t)(next(in) % 8) - 4;
            header(hdr, counter + (uint64_t)(int64_t)skew, len, type);
            n = seal(a, hdr, payload, len, msg);
            if (t & 4) {
                /* Sealed as one type, shown as another (data <-> close):
                 * only the tag over the header can tell. */
                msg[12] ^= 3;
            } else if (skew == 0 && slack == 0 && type == 1) {
                expect = DELIVER;
            } else if (skew == 0 && slack == 0 && type == 2 && len == 0) {
                expect = END;
            }
            n = (size_t)((int64_t)n + slack);
        }
        desc_len = (uint32_t)n;
        if (desc_len == 0 || desc_len > SLOT_SIZE || post(p, msg, desc_len, desc_len))
            continue; /* not something a ring can carry */
        ssize_t r = zc_seal_recv(s, got, sizeof(got));
        if (expect == DELIVER) {
            if (r != (ssize_t)len || memcmp(got, payload, len) != 0)
                abort();
            counter++;
            continue;
        }
        if (expect == END ? r != -ESHUTDOWN : r >= 0)
            abort();
        /* Closed for good: the same answer again. */
        if (zc_seal_recv(s, got, sizeof(got)) != r)
            abort();
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (zc_keypair_generate(&side0) || zc_keypair_generate(&side1))
            abort();
        memcpy(side0_pub.key, side0.pub, ZC_KEY_BYTES);
        memcpy(side1_pub.key, side1.pub, ZC_KEY_BYTES);
        setenv("ZC_CIPHER", "aes", 1);
        ready = 1;
    }
    int sv[2];
    if (zc_shm_socketpair(sv))
        abort();
    struct peer p = {0};
    struct endpoint e = {.sock = sv[1]};
    if (grant(&p, sv[0]))
        abort();
    pthread_t t;
    pthread_create(&t, NULL, endpoint_main, &e);
    struct zc_transport tr = {peer_send_all, peer_recv_all, &p};
    struct zc_session session;
    int r = zc_handshake_initiate(&tr, &side0, &side1_pub, "zc-seal/1", 9, &session);
    pthread_join(t, NULL);
    if (r || e.result)
        abort();
    struct zc_aead *a;
    if (zc_aead_new(&a, session.cipher, session.send_key, 0x7a630000u))
        abort();
    struct input in = {data, size};
    play(&p, e.s, a, &in);
    zc_aead_free(a);
    zc_seal_destroy(e.s);
    zc_ring_destroy(p.out);
    zc_ring_destroy(p.in);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
