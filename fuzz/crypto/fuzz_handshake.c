/* fuzz_handshake.c - hostile handshake messages: the input is what the peer
 * sends (the responder reads an initiation from it, the initiator a
 * response).  Nothing may crash, and no forged message may give a session. */
#include "zc/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct feed {
    const uint8_t *data;
    size_t len;
};

static int feed_send(void *ctx, const void *buf, size_t len)
{
    return 0;
}

static int feed_recv(void *ctx, void *buf, size_t len)
{
    struct feed *f = ctx;
    if (f->len < len)
        return -ECONNRESET;
    memcpy(buf, f->data, len);
    f->data += len;
    f->len -= len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct zc_keypair self;
    static struct zc_pubkey peer;
    static int ready;
    if (!ready) {
        struct zc_keypair other;
        if (zc_keypair_generate(&self) || zc_keypair_generate(&other))
            abort();
        memcpy(peer.key, other.pub, sizeof(peer.key));
        ready = 1;
    }
    struct feed f = {data, size};
    struct zc_transport t = {feed_send, feed_recv, &f};
    struct zc_session s;
    /* Without the peers' private keys no input can complete a handshake. */
    if (zc_handshake_respond(&t, &self, &peer, 1, "fuzz", 4, &s) == 0)
        abort();
    f = (struct feed){data, size};
    if (zc_handshake_initiate(&t, &self, &peer, "fuzz", 4, &s) == 0)
        abort();
    return 0;
}
