/* test_seal.c - sealed channels through honest and evil brokers.
 *
 * Each case runs a broker and two endpoints as threads over socket pairs:
 * side 0 sends numbered messages and closes, side 1 receives.  Through an
 * honest broker everything arrives, in order, across key ratchets, and the
 * broker's full view of shared memory holds no plaintext and no key.  Each
 * evil mode must be caught: side 1 delivers an exact prefix of what was
 * sent, then reports the expected error, keeps reporting it (fail closed)
 * and leaves nothing of the bad message in its buffer.
 */
#define _GNU_SOURCE
#include "evil_broker.h"
#include "zc_test.h"
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/seal.h"
#include "zc/shm.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define TIMEOUT_NS (10ll * 1000 * 1000 * 1000)
#define MARKER     "ZC-PLAINTEXT-MARKER"

static struct zc_keypair key0, key1, stranger;
static struct zc_pubkey pub0, pub1, stranger_pub;

/* libzc's broker, or the tests' evil one when evil is set. */
struct broker_run {
    struct zc_seal_broker *b;
    struct evil_broker *evil;
    int sock0, sock1;
    int result;
};

static void *broker_main(void *arg)
{
    struct broker_run *br = arg;
    br->result = br->evil ? evil_broker_serve(br->evil, br->sock0, br->sock1)
                          : zc_seal_broker_serve(br->b, br->sock0, br->sock1);
    return NULL;
}

struct sender {
    int sock;
    const struct zc_keypair *self;
    const struct zc_pubkey *peer;
    unsigned count;     /* messages to send */
    size_t size;        /* bytes each (0: varying) */
    const size_t *lens; /* else message i has lens[i] bytes, when set */
    uint64_t rekey;     /* 0: default */
    int connect_result, send_result;
    unsigned sent;
};

/* The content of message i: a marker, the number, then a pattern. */
static size_t message(unsigned i, size_t size, const size_t *lens, size_t max, uint8_t *out)
{
    size_t len = lens ? lens[i] : size ? size : 1 + (i * 977) % max;
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(i * 31 + k * 7);
    char head[48];
    int n = snprintf(head, sizeof(head), MARKER "-%u-", i);
    memcpy(out, head, ZC_MIN((size_t)n, len));
    return len;
}

static void *sender_main(void *arg)
{
    struct sender *sd = arg;
    struct zc_seal *s;
    sd->connect_result = zc_seal_connect(&s, sd->sock, getuid(), sd->self, sd->peer, TIMEOUT_NS);
    if (sd->connect_result) {
        close(sd->sock);
        return NULL;
    }
    if (sd->rekey)
        zc_seal_set_rekey_interval(s, sd->rekey);
    size_t max = zc_seal_max_msg(s);
    uint8_t *buf = malloc(max + 1);
    CHECK(buf);
    /* Too large: refused, and the channel goes on. */
    CHECK_EQ(zc_seal_send(s, buf, max + 1), -EMSGSIZE);
    for (unsigned i = 0; i < sd->count && !sd->send_result; i++) {
        size_t len = message(i, sd->size, sd->lens, max, buf);
        sd->send_result = zc_seal_send(s, buf, len);
        sd->sent += !sd->send_result;
    }
    if (!sd->send_result)
        sd->send_result = zc_seal_close(s);
    if (!sd->send_result)
        sd->send_result = zc_seal_flush(s);
    free(buf);
    zc_seal_destroy(s);
    close(sd->sock);
    return NULL;
}

struct outcome {
    int connect_result;
    unsigned delivered; /* messages that matched, in order */
    ssize_t end;        /* what ended the stream */
    int sender_connect, sender_result;
    bool clean_buffer; /* the failed receive left no bytes of its own */
    enum zc_cipher cipher;
};

struct options {
    bool evil; /* the tests' broker in mode, else libzc's */
    enum evil_mode mode;
    unsigned count, slots;
    uint32_t max_msg;
    size_t size;
    const size_t *lens;       /* count lengths, one a message, when set */
    uint64_t rekey, rekey_rx; /* key ratchet intervals of side 0 and side 1 (0: default) */
    const struct zc_keypair *sender_key;
    const struct zc_pubkey *receiver_accepts;
    bool check_view;
};

static int region(const struct broker_run *br, unsigned i, const void **base, size_t *size)
{
    return br->evil ? evil_broker_region(br->evil, i, base, size)
                    : zc_seal_broker_region(br->b, i, base, size);
}

static bool view_contains(const struct broker_run *br, const void *needle, size_t len)
{
    const void *base;
    size_t size;
    for (unsigned i = 0; region(br, i, &base, &size) == 0; i++)
        if (memmem(base, size, needle, len))
            return true;
    return false;
}

static struct outcome run(const struct options *o)
{
    struct zc_seal_config cfg = {.slots = o->slots ? o->slots : 8,
                                 .max_msg = o->max_msg ? o->max_msg : 4096};
    struct broker_run br = {0};
    if (o->evil)
        CHECK_OK(evil_broker_create(&br.evil, &cfg, o->mode));
    else
        CHECK_OK(zc_seal_broker_create(&br.b, &cfg));
    int a[2], c[2];
    CHECK_OK(zc_shm_socketpair(a));
    CHECK_OK(zc_shm_socketpair(c));
    br.sock0 = a[0];
    br.sock1 = c[0];
    pthread_t bt, st;
    CHECK(pthread_create(&bt, NULL, broker_main, &br) == 0);
    struct sender sd = {.sock = a[1],
                        .self = o->sender_key ? o->sender_key : &key0,
                        .peer = &pub1,
                        .count = o->count,
                        .size = o->size,
                        .lens = o->lens,
                        .rekey = o->rekey};
    CHECK(pthread_create(&st, NULL, sender_main, &sd) == 0);

    struct outcome out = {.clean_buffer = true};
    struct zc_seal *s;
    const struct zc_pubkey *accept = o->receiver_accepts ? o->receiver_accepts : &pub0;
    out.connect_result = zc_seal_connect(&s, c[1], getuid(), &key1, accept, TIMEOUT_NS);
    if (!out.connect_result) {
        if (o->rekey_rx)
            zc_seal_set_rekey_interval(s, o->rekey_rx);
        out.cipher = zc_seal_cipher(s);
        size_t max = zc_seal_max_msg(s);
        uint8_t *buf = malloc(max), *want = malloc(max);
        CHECK(buf && want);
        /* A buffer that might not hold a message: refused, nothing consumed. */
        CHECK_EQ(zc_seal_recv(s, buf, max - 1), -EINVAL);
        for (;;) {
            memset(buf, 0xAA, max);
            ssize_t n = zc_seal_recv(s, buf, max);
            if (n < 0) {
                out.end = n;
                for (size_t k = 0; k < max; k++)
                    out.clean_buffer &= buf[k] == 0 || buf[k] == 0xAA;
                break;
            }
            size_t len = message(out.delivered, o->size, o->lens, max, want);
            CHECK_EQ(n, len);
            CHECK(memcmp(buf, want, len) == 0);
            out.delivered++;
        }
        /* Fail closed: the same answer again, and no sending either. */
        CHECK_EQ(zc_seal_recv(s, buf, max), out.end);
        if (out.end != -ESHUTDOWN)
            CHECK_EQ(zc_seal_send(s, "x", 1), out.end);
        CHECK_EQ(zc_seal_recv(s, buf, 1), out.end);
        free(buf);
        free(want);
        zc_seal_destroy(s);
    }
    close(c[1]);
    CHECK(pthread_join(st, NULL) == 0);
    CHECK(pthread_join(bt, NULL) == 0);
    /* Everyone is done; the broker still maps every region it shared. */
    if (o->check_view) {
        CHECK(!view_contains(&br, MARKER, strlen(MARKER)));
        CHECK(!view_contains(&br, key0.priv, ZC_KEY_BYTES));
        CHECK(!view_contains(&br, key1.priv, ZC_KEY_BYTES));
    }
    out.sender_connect = sd.connect_result;
    out.sender_result = sd.send_result;
    zc_seal_broker_destroy(br.b);
    evil_broker_destroy(br.evil);
    close(a[0]);
    close(c[0]);
    return out;
}

static void test_honest(void)
{
    /* Varying sizes, both ends of the range, key ratchets every 16. */
    struct options o = {.count = 300, .rekey = 16, .rekey_rx = 16, .check_view = true};
    struct outcome r = run(&o);
    CHECK_OK(r.connect_result);
    CHECK_OK(r.sender_connect);
    CHECK_EQ(r.delivered, 300);
    CHECK_EQ(r.end, -ESHUTDOWN);
    CHECK_OK(r.sender_result);
}

/* Every length around the edges of the staging chunks and of the pieces
 * decrypted at a time, for both chunk sizes (OpenSSL's 6144, ipsec-mb's
 * 8192): chunks end on multiples of the chunk size within the buffer, 16
 * header bytes before the payload's, and pieces halve a chunk. */
static size_t chunk_edge_lengths(size_t *lens, size_t cap, size_t max)
{
    static const size_t chunks[] = {6144, 8192};
    size_t n = 0;
    lens[n++] = 1;
    lens[n++] = 96; /* one of OpenSSL's groups */
    for (size_t c = 0; c < ZC_ARRAY_SIZE(chunks); c++)
        for (size_t k = 1; k <= 3; k++) {
            size_t end = k * chunks[c] - 16, start = k == 1 ? 0 : end - chunks[c];
            size_t edges[] = {start + chunks[c] / 2, end};
            for (size_t e = 0; e < 2; e++)
                for (size_t d = 0; d < 3 && n < cap && edges[e] + 1 <= max; d++)
                    lens[n++] = edges[e] + d - 1;
        }
    if (n < cap)
        lens[n++] = max;
    return n;
}

static void test_chunk_edges(void)
{
    size_t lens[48];
    size_t n = chunk_edge_lengths(lens, ZC_ARRAY_SIZE(lens), 40000);
    CHECK(n > 30);
    for (int chacha = 0; chacha < 2; chacha++) {
        if (chacha)
            setenv("ZC_CIPHER", "chacha", 1);
        struct options o = {
            .count = (unsigned)n, .lens = lens, .max_msg = 40000, .check_view = true};
        struct outcome r = run(&o);
        unsetenv("ZC_CIPHER");
        CHECK_OK(r.connect_result);
        CHECK_EQ(r.delivered, n);
        CHECK_EQ(r.end, -ESHUTDOWN);
        CHECK_OK(r.sender_result);
    }
}

static void test_chacha(void)
{
    /* The fallback cipher, as on a CPU without AES instructions. */
    setenv("ZC_CIPHER", "chacha", 1);
    struct options o = {.count = 100, .check_view = true};
    struct outcome r = run(&o);
    unsetenv("ZC_CIPHER");
    CHECK_EQ(r.cipher, ZC_CIPHER_CHACHA20POLY1305);
    CHECK_EQ(r.delivered, 100);
    CHECK_EQ(r.end, -ESHUTDOWN);
    CHECK_OK(r.sender_result);
}

static void test_relay_view(void)
{
    /* The relaying broker handles every byte itself and still sees none. */
    struct options o = {.evil = true, .mode = EVIL_RELAY, .count = 50, .check_view = true};
    struct outcome r = run(&o);
    CHECK_EQ(r.delivered, 50);
    CHECK_EQ(r.end, -ESHUTDOWN);
}

static void test_rekey_mismatch(void)
{
    /* One side ratchets, the other not: the first message after the
     * ratchet fails, nothing after it is delivered. */
    struct options o = {.count = 20, .rekey = 4};
    struct outcome r = run(&o);
    CHECK_EQ(r.delivered, 4);
    CHECK_EQ(r.end, -EBADMSG);
    CHECK(r.clean_buffer);
}

static void test_evil_modes(void)
{
    static const struct {
        enum evil_mode mode;
        unsigned delivered;
        int end;
    } cases[] = {
        {EVIL_PAYLOAD, 1, -EBADMSG}, {EVIL_HEADER, 1, -EBADMSG},  {EVIL_TAG, 1, -EBADMSG},
        {EVIL_REPLAY, 2, -EBADMSG},  {EVIL_REORDER, 1, -EBADMSG}, {EVIL_TRUNCATE, 1, -EBADMSG},
        {EVIL_INFLATE, 1, -EBADMSG}, {EVIL_REWRITE, 1, -EBADMSG}, {EVIL_DROP, 1, -EBADMSG},
        {EVIL_CUT, 1, -EPIPE},
    };
    for (size_t i = 0; i < ZC_ARRAY_SIZE(cases); i++) {
        fprintf(stderr, "    %s\n", evil_name(cases[i].mode));
        struct options o = {.evil = true, .mode = cases[i].mode, .count = 12, .size = 300};
        struct outcome r = run(&o);
        CHECK_OK(r.connect_result);
        CHECK_EQ(r.delivered, cases[i].delivered);
        CHECK_EQ(r.end, cases[i].end);
        CHECK(r.clean_buffer);
        /* The sender is told, too, and does not hang. */
        CHECK(r.sender_result < 0 || cases[i].end == -EBADMSG);
    }
}

static void test_race(void)
{
    /* A broker that keeps rewriting delivered buffers while side 1 reads
     * them: every delivered message is exact, whatever the timing. */
    unsigned caught = 0, total = 0;
    for (int round = 0; round < 6; round++) {
        /* The last rounds' messages span several staging chunks. */
        bool long_msgs = round >= 4;
        struct options o = {.evil = true,
                            .mode = EVIL_RACE,
                            .count = long_msgs ? 100 : 400,
                            .size = long_msgs ? 20000 : 2048,
                            .max_msg = long_msgs ? 32768 : 0,
                            .slots = 4};
        struct outcome r = run(&o);
        CHECK(r.clean_buffer);
        if (r.connect_result) {
            /* The racer starts with the relays, so it may rewrite a
             * handshake message as it is read: refused, nothing
             * delivered. */
            CHECK(r.connect_result == -EBADMSG || r.connect_result == -EPROTO);
            CHECK_EQ(r.delivered, 0);
            caught++;
            continue;
        }
        CHECK(r.end == -ESHUTDOWN || r.end == -EBADMSG || r.end == -EPROTO);
        caught += r.end != -ESHUTDOWN;
        total += r.delivered;
    }
    fprintf(stderr, "    %u exact messages delivered, %u rounds stopped by a caught race\n", total,
            caught);
}

struct idle_peer {
    int sock;
    struct zc_seal *s;
    int result;
};

static void *idle_connect(void *arg)
{
    struct idle_peer *ip = arg;
    ip->result = zc_seal_connect(&ip->s, ip->sock, getuid(), &key1, &pub0, TIMEOUT_NS);
    return NULL;
}

static void test_close_failure(void)
{
    /* Side 1 joins but never reads: side 0 fills both slots, its close
     * times out, and the channel stays broken with that error (a second
     * close does not report success, a send does not say -EPIPE). */
    struct zc_seal_config cfg = {.slots = 2, .max_msg = 64};
    struct broker_run br = {0}; /* no evil broker */
    CHECK_OK(zc_seal_broker_create(&br.b, &cfg));
    int a[2], c[2];
    CHECK_OK(zc_shm_socketpair(a));
    CHECK_OK(zc_shm_socketpair(c));
    br.sock0 = a[0];
    br.sock1 = c[0];
    pthread_t bt, pt;
    CHECK(pthread_create(&bt, NULL, broker_main, &br) == 0);
    struct idle_peer ip = {.sock = c[1]};
    CHECK(pthread_create(&pt, NULL, idle_connect, &ip) == 0);
    struct zc_seal *s;
    CHECK_OK(zc_seal_connect(&s, a[1], getuid(), &key0, &pub1, 1000ll * 1000 * 1000));
    CHECK(pthread_join(pt, NULL) == 0);
    CHECK_OK(ip.result);
    CHECK_OK(zc_seal_send(s, "a", 1));
    CHECK_OK(zc_seal_send(s, "b", 1));
    CHECK_EQ(zc_seal_close(s), -ETIMEDOUT);
    CHECK_EQ(zc_seal_close(s), -ETIMEDOUT);
    CHECK_EQ(zc_seal_send(s, "c", 1), -ETIMEDOUT);
    uint8_t buf[64];
    CHECK_EQ(zc_seal_recv(s, buf, sizeof(buf)), -ETIMEDOUT);
    zc_seal_destroy(s);
    zc_seal_destroy(ip.s);
    close(a[1]);
    close(c[1]);
    CHECK(pthread_join(bt, NULL) == 0);
    zc_seal_broker_destroy(br.b);
    evil_broker_destroy(br.evil);
    close(a[0]);
    close(c[0]);
}

static void test_handshake_refused(void)
{
    /* Side 1 accepts only `stranger`: side 0 is refused and nothing flows. */
    struct options o = {.count = 5, .receiver_accepts = &stranger_pub};
    struct outcome r = run(&o);
    CHECK_EQ(r.connect_result, -EACCES);
    CHECK(r.sender_connect < 0);
    /* Side 0 is an impostor with another key. */
    o = (struct options){.count = 5, .sender_key = &stranger};
    r = run(&o);
    CHECK_EQ(r.connect_result, -EACCES);
    CHECK(r.sender_connect < 0);
}

static void test_bad_broker(void)
{
    /* A broker whose hello is malformed is refused before anything maps. */
    static const uint32_t hellos[][4] = {
        {0x12345678, 0, 8, 4096},               /* magic */
        {0x3173637a, 2, 8, 4096},               /* side */
        {0x3173637a, 0, 6, 4096},               /* slots not a power of two */
        {0x3173637a, 0, 8, 0},                  /* no payload */
        {0x3173637a, 0, 4096, ZC_SEAL_MAX_MSG}, /* far too much memory */
    };
    for (size_t i = 0; i < ZC_ARRAY_SIZE(hellos); i++) {
        int sv[2];
        CHECK_OK(zc_shm_socketpair(sv));
        CHECK_OK(zc_shm_send_fds(sv[0], hellos[i], sizeof(hellos[i]), NULL, 0));
        struct zc_seal *s;
        CHECK_EQ(zc_seal_connect(&s, sv[1], getuid(), &key1, &pub0, TIMEOUT_NS), -EBADMSG);
        close(sv[0]);
        close(sv[1]);
    }
    /* A broker that hangs up at once. */
    int sv[2];
    CHECK_OK(zc_shm_socketpair(sv));
    close(sv[0]);
    struct zc_seal *s;
    CHECK(zc_seal_connect(&s, sv[1], getuid(), &key1, &pub0, TIMEOUT_NS) < 0);
    close(sv[1]);
}

static void test_names_and_limits(void)
{
    enum evil_mode m;
    CHECK_OK(evil_parse("race", &m));
    CHECK_EQ(m, EVIL_RACE);
    CHECK(strcmp(evil_name(EVIL_TAG), "tag") == 0);
    CHECK_EQ(evil_parse("nice", &m), -EINVAL);
    struct zc_seal_broker *b;
    struct zc_seal_config bad[] = {{.slots = 3, .max_msg = 64},
                                   {.slots = 8, .max_msg = 0},
                                   {.slots = 8, .max_msg = ZC_SEAL_MAX_MSG + 1}};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(bad); i++)
        CHECK_EQ(zc_seal_broker_create(&b, &bad[i]), -EINVAL);
}

/* With the argument "race", only the race (which races on purpose, so it
 * stays out of the ThreadSanitizer run); without, everything else. */
int main(int argc, char **argv)
{
    CHECK_OK(zc_keypair_generate(&key0));
    CHECK_OK(zc_keypair_generate(&key1));
    CHECK_OK(zc_keypair_generate(&stranger));
    memcpy(pub0.key, key0.pub, 32);
    memcpy(pub1.key, key1.pub, 32);
    memcpy(stranger_pub.key, stranger.pub, 32);
    if (argc > 1 && strcmp(argv[1], "race") == 0) {
        RUN(test_race);
        return 0;
    }
    RUN(test_names_and_limits);
    RUN(test_bad_broker);
    RUN(test_honest);
    RUN(test_chunk_edges);
    RUN(test_chacha);
    RUN(test_relay_view);
    RUN(test_rekey_mismatch);
    RUN(test_evil_modes);
    RUN(test_handshake_refused);
    RUN(test_close_failure);
    return 0;
}
