/* harness.h - what the place tests share: a scratch directory, keys, a
 * server in a child process, and a user-space relay that injects faults
 * into the client-to-server stream. */
#ifndef ZC_TESTS_PLACE_HARNESS_H
#define ZC_TESTS_PLACE_HARNESS_H

#include "zc/base.h"
#include "zc/place.h"
#include "conn.h"
#include "zc_test.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct harness {
    char dir[256];  /* scratch directory (removed at exit) */
    char root[300]; /* the server's root */
    struct zc_keypair server, client, stranger;
    struct zc_pubkey server_pub;
    pid_t server_pid;
    uint16_t port;
    unsigned max_sessions; /* for the next harness_start_server; 0: the default */
};

/* Scratch directory under $TMPDIR, keys; registers cleanup. */
void harness_init(struct harness *h);
/* Starts `zc serve` logic in a child on 127.0.0.1:<any>, root h->root. */
void harness_start_server(struct harness *h, unsigned idle_ms, uint64_t max_file_size);
void harness_stop_server(struct harness *h);

/* A client of the server at port (the server's, or a relay's). */
int harness_connect(struct harness *h, uint16_t port, const struct zc_keypair *key, bool integrity,
                    bool resume, unsigned idle_ms, struct zc_place_client **c);
/* The same with streams parallel connections for large files. */
int harness_connect_streams(struct harness *h, unsigned streams, bool integrity,
                            struct zc_place_client **c);

/* A client that speaks frames itself (to send what the library never
 * would): connected to the server and past the handshake. */
struct place_conn harness_raw_connect(struct harness *h);
/* The server's answer to a raw client: 0 for any frame but ERROR, the
 * ERROR's -errno, or the receive error. */
int harness_raw_answer(struct place_conn *c);

/* Writes size bytes of a fixed pseudo-random pattern (seed) to path. */
void harness_make_file(const char *path, uint64_t size, uint32_t seed, mode_t mode);
/* sha256 of a file into out (32 bytes); 0 or -errno. */
int harness_sha256(const char *path, uint8_t out[32]);
/* Number of entries directly in dir whose name starts with prefix ("" = all). */
int harness_count(const char *dir, const char *prefix);
/* The name of an entry directly in dir starting with prefix into out
 * (the first readdir finds); true when there is one. */
bool harness_find(const char *dir, const char *prefix, char *out, size_t outlen);
/* Waits up to ms for path to exist; true when it does. */
bool harness_wait_for(const char *path, unsigned ms);

/* ---- the fault relay ---- */
enum relay_fault {
    RELAY_PASS,         /* forward unchanged */
    RELAY_FLIP_HEADER,  /* flip a bit in the header of data frame `frame` */
    RELAY_FLIP_PAYLOAD, /* ... in its payload */
    RELAY_FLIP_TAG,     /* ... in its tag */
    RELAY_REPLAY,       /* send data frame `frame` twice */
    RELAY_REORDER,      /* swap data frames `frame` and `frame` + 1 */
    RELAY_CUT,          /* close both sides cleanly before data frame `frame` */
    RELAY_RESET,        /* reset both sides (RST) before data frame `frame` */
    RELAY_STALL,        /* stop forwarding before data frame `frame`, keep both open */
    RELAY_PAUSE,        /* stop forwarding before data frame `frame` until relay_resume() */
    RELAY_CUT_DOWN,     /* close both sides once `frame` x 256 KiB came from the server (a get) */
};

struct relay;
/* Listens on 127.0.0.1:<any> and relays one connection to 127.0.0.1:to_port,
 * applying fault (counting DATA frames from 0); returns the listening port. */
uint16_t relay_start(struct relay **r, uint16_t to_port, enum relay_fault fault, unsigned frame);
/* Whether the fault was applied (the transfer reached that frame). */
bool relay_fired(struct relay *r);
/* Lets a RELAY_PAUSE relay forward again. */
void relay_resume(struct relay *r);
/* Stops and frees the relay. */
void relay_stop(struct relay *r);

#endif
