/* conn.h - one authenticated place connection: handshake, then sealed frames. */
#ifndef ZC_PLACE_CONN_H
#define ZC_PLACE_CONN_H

#include "wire.h"

/* Large payloads are read, sealed or MAC'd, sent, received, verified and
 * written in pieces of this size, small enough to stay in L2 while each
 * pass runs over them (the wire is the same: one payload, one tag).
 * Measured on 1 GiB over loopback: 64, 256, 512 KiB and 1 MiB pieces took
 * 0.52-0.59, 0.49-0.54, 0.47-0.53 and 0.46-0.49 s. */
#define PLACE_PIECE (512u << 10)

/* Deadlines: every frame must arrive whole within one idle period plus
 * its length at this rate (bytes per second), so a peer that trickles
 * cannot hold a session; checked within DEADLINE_SLACK_MS. */
#define PLACE_MIN_RATE    (64u << 10)
#define DEADLINE_SLACK_MS 1000

/* Nonce salts of the two directions (each direction has its own key too). */
#define PLACE_SALT_C2S 0x7a630001u
#define PLACE_SALT_S2C 0x7a630002u

struct place_conn {
    int fd;
    struct zc_aead *tx, *rx;
    uint64_t tx_seq, rx_seq;
    uint8_t rx_hdr[PLACE_HDR_BYTES]; /* the header being received: the tag's associated data */
    uint8_t ahead[PLACE_HDR_BYTES];  /* the next header's first bytes, read with a tag */
    uint32_t nahead;
    struct place_hdr rx_cur;
    uint8_t *sealbuf;  /* ZC_PLACE_MAX_CHUNK bytes: the encrypted payload on its way out */
    uint8_t *piecebuf; /* PLACE_PIECE bytes: a received piece while it is verified */
    struct zc_pubkey peer;
    unsigned idle_ms;    /* the whole-frame budget before its length's share */
    unsigned rcv_ms;     /* the socket's receive timeout now */
    uint64_t deadline;   /* zc_now_ns() by which the frame being received is whole */
    uint64_t wire_bytes; /* written to fd: handshake, headers, payloads, tags */
};

/* Sets timeouts (idle_ms) and TCP_NODELAY on fd and takes it over; 0 or -errno.
 * Every frame then has a deadline: idle_ms plus its length at
 * PLACE_MIN_RATE, whole (-ETIMEDOUT after it), however it trickles. */
int place_conn_init(struct place_conn *c, int fd, unsigned idle_ms);
/* Runs the handshake as the client (initiator) or the server (responder)
 * and sets up both directions' keys; 0, -EACCES, -EBADMSG or -errno. */
int place_conn_handshake_client(struct place_conn *c, const struct zc_keypair *self,
                                const struct zc_pubkey *server);
int place_conn_handshake_server(struct place_conn *c, const struct zc_keypair *self,
                                const struct zc_pubkey *authorized, size_t nauthorized);
/* The server's half after zc_handshake_accept() verified the initiation
 * (perhaps in another process): sends the response, sets up the keys;
 * frees hs. */
int place_conn_handshake_answer(struct place_conn *c, struct zc_handshake *hs);
/* Whether the peer is this machine (a loopback address or a UNIX socket):
 * there sendfile's page references cost more to receive than a copy. */
bool place_conn_loopback(const struct place_conn *c);
/* Wipes keys, closes the socket. */
void place_conn_destroy(struct place_conn *c);

/* Sends one frame with an in-memory payload (sealed, or MAC'd with
 * PLACE_FLAG_CLEAR); 0 or -errno. */
int place_conn_send(struct place_conn *c, uint8_t type, uint8_t flags, uint32_t file_id,
                    uint64_t offset, const void *payload, uint32_t len);
/* Sends a DATA frame of len bytes of file fd at offset, read into
 * c->sealbuf a piece at a time and sealed there; with PLACE_FLAG_CLEAR
 * MAC'd there and sent from it, or when by_sendfile sent by sendfile from
 * the page cache (no user-space copy out; the MAC still reads the bytes).
 * 0, -ESTALE when the file ends before offset + len, or -errno. */
int place_conn_send_file(struct place_conn *c, uint8_t flags, uint32_t file_id, uint64_t offset,
                         int fd, uint32_t len, bool by_sendfile);
/* Sends an ERROR frame (errno err, text msg), best effort. */
void place_conn_send_error(struct place_conn *c, int err, const char *msg);

/* Receives the next header into private memory, checks it (see
 * place_hdr_decode) and that its sequence is the next one; 0, -EPROTO,
 * -ETIMEDOUT, -ECONNRESET or -errno.  The header is in c->rx_cur. */
int place_conn_recv_hdr(struct place_conn *c);
/* Receives the current control frame's payload into dst (length
 * c->rx_cur.length, at most PLACE_MAX_CTRL) and its tag, and decrypts it in
 * place; 0, -EPROTO for a DATA frame, or -EBADMSG: dst is then garbage that
 * must never count. */
int place_conn_recv_payload(struct place_conn *c, void *dst);
/* Receives the current DATA payload for fd at off, a piece at a time: each
 * piece lands in a buffer small enough to stay in cache (one of w's, or
 * c->piecebuf when w is NULL), is verified or decrypted there, and goes to
 * its place: queued to w's thread, or written with pwrite.  Then the tag.
 * 0 when the tag holds, else -EBADMSG or -errno, and what was placed is
 * garbage that must never count. */
struct place_writer;
int place_conn_recv_payload_at(struct place_conn *c, struct place_writer *w, int fd, uint64_t off);
/* Whether the next frame has begun to arrive (without blocking). */
bool place_conn_pending(struct place_conn *c);
/* Receives one whole control frame (not DATA) into buf (PLACE_MAX_CTRL
 * bytes), verified; 0 with c->rx_cur set, or -errno. */
int place_conn_recv_ctrl(struct place_conn *c, uint8_t *buf);
/* Reads an ERROR payload into err (positive errno) and msg. */
void place_error_decode(const uint8_t *buf, uint32_t len, int *err, char *msg, size_t msglen);

#endif /* ZC_PLACE_CONN_H */
