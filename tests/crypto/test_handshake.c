/* test_handshake.c - the handshake between two threads over a socket pair:
 * agreement, a wrong server key, an unauthorized client, a mismatched
 * prologue, a low-order ephemeral key, and one flipped bit at every byte
 * of both messages (each must fail, never yield a session). */
#include "zc_test.h"
#include "zc/base.h"
#include "zc/crypto.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A transport that flips bits of the byte at offset `flip` of what it sends. */
struct tamper {
    int fd;
    long flip;
    uint8_t mask;
    size_t sent;
};

static int tamper_send(void *ctx, const void *buf, size_t len)
{
    struct tamper *t = ctx;
    uint8_t copy[256];
    CHECK(len <= sizeof(copy));
    memcpy(copy, buf, len);
    if (t->flip >= (long)t->sent && t->flip < (long)(t->sent + len))
        copy[t->flip - (long)t->sent] ^= t->mask;
    t->sent += len;
    return zc_write_all(t->fd, copy, len);
}

static int tamper_recv(void *ctx, void *buf, size_t len)
{
    struct tamper *t = ctx;
    return zc_read_all(t->fd, buf, len);
}

static struct zc_keypair server, client, stranger;
static struct zc_pubkey server_pub, client_pub, stranger_pub;

struct side {
    struct tamper tp;
    struct zc_transport t;
    const struct zc_keypair *self;
    const struct zc_pubkey *peer; /* initiator: the server it expects */
    const struct zc_pubkey *authorized;
    size_t nauthorized;
    const char *prologue;
    struct zc_session session;
    int result;
};

static void *initiator_main(void *arg)
{
    struct side *s = arg;
    s->result = zc_handshake_initiate(&s->t, s->self, s->peer, s->prologue, strlen(s->prologue),
                                      &s->session);
    /* Done either way: let the responder see EOF instead of waiting. */
    shutdown(s->tp.fd, SHUT_RDWR);
    return NULL;
}

/* Runs one handshake; flips are byte offsets into each side's output (-1: none). */
static void run(struct side *ini, struct side *resp, long flip_init, long flip_resp, uint8_t mask)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ini->tp = (struct tamper){.fd = sv[0], .flip = flip_init, .mask = mask};
    resp->tp = (struct tamper){.fd = sv[1], .flip = flip_resp, .mask = mask};
    ini->t = (struct zc_transport){tamper_send, tamper_recv, &ini->tp};
    resp->t = (struct zc_transport){tamper_send, tamper_recv, &resp->tp};
    memset(&ini->session, 0, sizeof(ini->session));
    memset(&resp->session, 0, sizeof(resp->session));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, initiator_main, ini) == 0);
    resp->result = zc_handshake_respond(&resp->t, resp->self, resp->authorized, resp->nauthorized,
                                        resp->prologue, strlen(resp->prologue), &resp->session);
    shutdown(sv[1], SHUT_RDWR);
    CHECK(pthread_join(th, NULL) == 0);
    close(sv[0]);
    close(sv[1]);
}

static void setup(struct side *ini, struct side *resp)
{
    *ini = (struct side){.self = &client, .peer = &server_pub, .prologue = "zc-test/1"};
    *resp = (struct side){
        .self = &server, .authorized = &client_pub, .nauthorized = 1, .prologue = "zc-test/1"};
}

static void test_success(void)
{
    struct side ini, resp;
    setup(&ini, &resp);
    struct zc_pubkey both[2] = {stranger_pub, client_pub};
    resp.authorized = both;
    resp.nauthorized = 2;
    run(&ini, &resp, -1, -1, 0);
    CHECK_OK(ini.result);
    CHECK_OK(resp.result);
    CHECK(memcmp(ini.session.send_key, resp.session.recv_key, ZC_KEY_BYTES) == 0);
    CHECK(memcmp(ini.session.recv_key, resp.session.send_key, ZC_KEY_BYTES) == 0);
    CHECK(memcmp(ini.session.send_key, ini.session.recv_key, ZC_KEY_BYTES) != 0);
    CHECK(memcmp(ini.session.transcript, resp.session.transcript, ZC_HASH_BYTES) == 0);
    CHECK(memcmp(ini.session.peer.key, server.pub, ZC_KEY_BYTES) == 0);
    CHECK(memcmp(resp.session.peer.key, client.pub, ZC_KEY_BYTES) == 0);
    CHECK_EQ(ini.session.cipher, resp.session.cipher);

    /* The keys work: a message one way opens on the other side. */
    struct zc_aead *tx, *rx;
    uint8_t tag[16], msg[5] = "hello", ct[5], out[5];
    CHECK_OK(zc_aead_new(&tx, ini.session.cipher, ini.session.send_key, 1));
    CHECK_OK(zc_aead_new(&rx, resp.session.cipher, resp.session.recv_key, 1));
    CHECK_OK(zc_aead_seal(tx, 0, NULL, 0, msg, ct, 5, tag));
    CHECK_OK(zc_aead_open(rx, 0, NULL, 0, ct, out, 5, tag));
    CHECK(memcmp(out, msg, 5) == 0);
    zc_aead_free(tx);
    zc_aead_free(rx);

    /* Fresh ephemerals: a second session has other keys (forward secrecy). */
    struct zc_session first = ini.session;
    run(&ini, &resp, -1, -1, 0);
    CHECK_OK(ini.result);
    CHECK(memcmp(first.send_key, ini.session.send_key, ZC_KEY_BYTES) != 0);
    CHECK(memcmp(first.transcript, ini.session.transcript, ZC_HASH_BYTES) != 0);
}

static void test_both_ciphers(void)
{
    const char *names[] = {"aes", "chacha"};
    for (int i = 0; i < 2; i++) {
        setenv("ZC_CIPHER", names[i], 1);
        struct side ini, resp;
        setup(&ini, &resp);
        run(&ini, &resp, -1, -1, 0);
        CHECK_OK(ini.result);
        CHECK_OK(resp.result);
        CHECK_EQ(resp.session.cipher, i == 0 ? ZC_CIPHER_AES256GCM : ZC_CIPHER_CHACHA20POLY1305);
        CHECK(memcmp(ini.session.send_key, resp.session.recv_key, ZC_KEY_BYTES) == 0);
    }
    unsetenv("ZC_CIPHER");
}

static void test_wrong_server_key(void)
{
    /* The client expects `stranger` but reaches `server`. */
    struct side ini, resp;
    setup(&ini, &resp);
    ini.peer = &stranger_pub;
    run(&ini, &resp, -1, -1, 0);
    CHECK_EQ(resp.result, -EBADMSG);
    CHECK(ini.result < 0);

    /* An impostor that answers anyway with a response of its own making. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    uint8_t forged[ZC_HANDSHAKE_RESPONSE_BYTES] = {2, 0, 0, 0};
    forged[1] = zc_cipher_default() == ZC_CIPHER_AES256GCM ? 1 : 2;
    memcpy(forged + 4, stranger.pub, 32);
    CHECK_OK(zc_write_all(sv[1], forged, sizeof(forged)));
    struct zc_transport t;
    zc_transport_fd(&t, sv[0]);
    struct zc_session s;
    CHECK_EQ(zc_handshake_initiate(&t, &client, &server_pub, "p", 1, &s), -EBADMSG);
    close(sv[0]);
    close(sv[1]);
}

static void test_unauthorized_client(void)
{
    struct side ini, resp;
    setup(&ini, &resp);
    ini.self = &stranger;
    run(&ini, &resp, -1, -1, 0);
    CHECK_EQ(resp.result, -EACCES);
    CHECK(ini.result < 0);
    /* Nobody authorized at all. */
    setup(&ini, &resp);
    resp.nauthorized = 0;
    run(&ini, &resp, -1, -1, 0);
    CHECK_EQ(resp.result, -EACCES);
    CHECK(ini.result < 0);
}

static void test_prologue_mismatch(void)
{
    struct side ini, resp;
    setup(&ini, &resp);
    ini.prologue = "zc-other/1";
    run(&ini, &resp, -1, -1, 0);
    CHECK_EQ(resp.result, -EBADMSG);
    CHECK(ini.result < 0);
}

static void test_low_order_ephemeral(void)
{
    /* An initiation whose ephemeral key is the all-zero point. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES] = {1, 0, 0, 0};
    msg[1] = zc_cipher_default() == ZC_CIPHER_AES256GCM ? 1 : 2;
    CHECK_OK(zc_write_all(sv[1], msg, sizeof(msg)));
    struct zc_transport t;
    zc_transport_fd(&t, sv[0]);
    struct zc_session s;
    CHECK_EQ(zc_handshake_respond(&t, &server, &client_pub, 1, "p", 1, &s), -EBADMSG);
    /* A peer that hangs up half way. */
    CHECK_OK(zc_write_all(sv[1], msg, 10));
    close(sv[1]);
    CHECK_EQ(zc_handshake_respond(&t, &server, &client_pub, 1, "p", 1, &s), -ECONNRESET);
    close(sv[0]);
}

static void test_tamper_every_byte(void)
{
    static const uint8_t masks[] = {0x01, 0x80};
    for (size_t m = 0; m < ZC_ARRAY_SIZE(masks); m++) {
        for (long i = 0; i < ZC_HANDSHAKE_INITIATION_BYTES; i++) {
            struct side ini, resp;
            setup(&ini, &resp);
            run(&ini, &resp, i, -1, masks[m]);
            if (resp.result != -EBADMSG)
                fprintf(stderr, "initiation byte %ld mask %#x: %d\n", i, masks[m], resp.result);
            CHECK_EQ(resp.result, -EBADMSG);
            CHECK(ini.result < 0);
        }
        for (long i = 0; i < ZC_HANDSHAKE_RESPONSE_BYTES; i++) {
            struct side ini, resp;
            setup(&ini, &resp);
            run(&ini, &resp, -1, i, masks[m]);
            CHECK_OK(resp.result); /* the responder cannot know */
            if (ini.result != -EBADMSG)
                fprintf(stderr, "response byte %ld mask %#x: %d\n", i, masks[m], ini.result);
            CHECK_EQ(ini.result, -EBADMSG);
        }
    }
}

/* A responder's refusal reaches the initiator as the error it names. */
static void test_refusals(void)
{
    static const int errs[] = {-EBUSY, -EKEYREJECTED, -EACCES, -ESTALE};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(errs); i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        struct zc_transport ti, tr;
        zc_transport_fd(&ti, sv[0]);
        zc_transport_fd(&tr, sv[1]);
        CHECK_OK(zc_handshake_refuse(&tr, errs[i]));
        struct zc_session s;
        CHECK_EQ(zc_handshake_initiate(&ti, &client, &server_pub, "p", 1, &s), errs[i]);
        close(sv[0]);
        close(sv[1]);
    }
    struct zc_transport none = {0};
    CHECK_EQ(zc_handshake_refuse(&none, -EIO), -EINVAL);
}

struct initiation {
    int fd;
    const struct zc_keypair *self;
    const struct zc_pubkey *server;
    struct zc_session session;
    int result;
};

static void *initiate_main(void *arg)
{
    struct initiation *in = arg;
    struct zc_transport t;
    zc_transport_fd(&t, in->fd);
    in->result = zc_handshake_initiate(&t, in->self, in->server, "p", 1, &in->session);
    shutdown(in->fd, SHUT_RDWR);
    return NULL;
}

/* The two-step responder: accept names the key and its timestamp, answer
 * completes the session; timestamps grow; a wrong server key is told
 * apart from a forgery. */
static void test_accept_answer(void)
{
    struct zc_pubkey list[2] = {stranger_pub, client_pub};
    uint8_t last[ZC_TIMESTAMP_BYTES] = {0};
    for (int round = 0; round < 3; round++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        struct initiation in = {.fd = sv[0], .self = &client, .server = &server_pub};
        pthread_t th;
        CHECK(pthread_create(&th, NULL, initiate_main, &in) == 0);
        uint8_t msg[ZC_HANDSHAKE_INITIATION_BYTES], ts[ZC_TIMESTAMP_BYTES];
        CHECK_OK(zc_read_all(sv[1], msg, sizeof(msg)));
        struct zc_handshake *hs;
        size_t which = 99;
        if (round == 2) { /* the initiator expected another server */
            CHECK_EQ(zc_handshake_accept(&hs, &stranger, list, 2, "p", 1, msg, &which, ts),
                     -EKEYREJECTED);
            CHECK(hs == NULL);
            msg[ZC_HANDSHAKE_INITIATION_BYTES - 1] ^= 1; /* a forged last tag */
            CHECK_EQ(zc_handshake_accept(&hs, &server, list, 2, "p", 1, msg, &which, ts), -EBADMSG);
            close(sv[1]);
            pthread_join(th, NULL);
            CHECK(in.result < 0);
            close(sv[0]);
            break;
        }
        CHECK_OK(zc_handshake_accept(&hs, &server, list, 2, "p", 1, msg, &which, ts));
        CHECK_EQ(which, 1);
        CHECK(memcmp(ts, last, sizeof(ts)) > 0);
        memcpy(last, ts, sizeof(ts));
        struct zc_transport t;
        zc_transport_fd(&t, sv[1]);
        struct zc_session s;
        CHECK_OK(zc_handshake_answer(hs, &t, &s));
        pthread_join(th, NULL);
        CHECK_OK(in.result);
        CHECK(memcmp(s.send_key, in.session.recv_key, ZC_KEY_BYTES) == 0);
        CHECK(memcmp(s.recv_key, in.session.send_key, ZC_KEY_BYTES) == 0);
        CHECK(memcmp(s.peer.key, client.pub, ZC_KEY_BYTES) == 0);
        close(sv[0]);
        close(sv[1]);
    }
}

int main(void)
{
    CHECK_OK(zc_keypair_generate(&server));
    CHECK_OK(zc_keypair_generate(&client));
    CHECK_OK(zc_keypair_generate(&stranger));
    memcpy(server_pub.key, server.pub, 32);
    memcpy(client_pub.key, client.pub, 32);
    memcpy(stranger_pub.key, stranger.pub, 32);
    RUN(test_success);
    RUN(test_both_ciphers);
    RUN(test_wrong_server_key);
    RUN(test_unauthorized_client);
    RUN(test_prologue_mismatch);
    RUN(test_low_order_ephemeral);
    RUN(test_tamper_every_byte);
    RUN(test_refusals);
    RUN(test_accept_answer);
    return 0;
}
