/* zc/place.h - secure direct-placement file transfer (`zc serve/put/get`).
 *
 * Every chunk on the wire carries its own placement header {type, file id,
 * offset, length, sequence, flags}, sealed together with the payload under
 * a session key from the crypto handshake (zc/crypto.h).  The receiver
 * reads the header into private memory, checks it, receives the payload
 * straight into the destination file's pages at that offset, and verifies
 * (decrypting in place) before the range counts.  A file appears under its
 * final name only after every byte is verified and fsync'd (atomic rename);
 * a bad tag ends the session and publishes nothing.  docs/PROTOCOL.md has
 * the byte-level description.
 *
 * All functions return 0 on success or a negative errno: -EBADMSG for a
 * failed tag, -EACCES for an unauthorized key or a refused path, -EPROTO for
 * a peer that breaks the protocol, -ETIMEDOUT for an idle peer, and the
 * server's own errno (e.g. -ENOSPC) when it refused a file.
 */
#ifndef ZC_PLACE_H
#define ZC_PLACE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zc/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest payload of one chunk frame. */
#define ZC_PLACE_MAX_CHUNK (1u << 20)
/* The longest path a peer may name (bytes, without a terminating NUL). */
#define ZC_PLACE_MAX_PATH 4095

/* Counters of one session or client. */
struct zc_place_stats {
    uint64_t files;         /* files placed (or sent) and confirmed */
    uint64_t bytes;         /* payload bytes of those files */
    uint64_t resumed_bytes; /* bytes a --resume found already verified */
    uint64_t wire_bytes;    /* bytes written to the sockets (all streams), framing included */
};

/* ---- the receiving server ---- */
struct zc_place_server_config {
    const char *root; /* every path is confined beneath this directory */
    const char *host; /* listen address ("127.0.0.1", "::1", "0.0.0.0") */
    uint16_t port;    /* 0: any free port (see zc_place_server_port) */
    const struct zc_keypair *key;
    const struct zc_pubkey *authorized; /* client keys allowed in */
    size_t nauthorized;
    unsigned max_sessions;    /* concurrent sessions; 0: 16 */
    unsigned idle_timeout_ms; /* a peer silent this long is dropped; 0: 30000 */
    uint64_t max_file_size;   /* refuse larger files; 0: no limit */
    /* A connection must have sent a valid initiation this soon after it was
     * accepted, or it is dropped before any session exists; 0: 5000, or
     * idle_timeout_ms when that is shorter. */
    unsigned handshake_timeout_ms;
};

struct zc_place_server;

/* Binds and listens; 0 with *out set, or -errno (root not a directory,
 * address in use, ...).  The config is copied (the keys by pointer). */
int zc_place_server_open(struct zc_place_server **out, const struct zc_place_server_config *cfg);
/* The port the server listens on (useful after port 0). */
uint16_t zc_place_server_port(const struct zc_place_server *s);
/* Accepts sessions, one child process each, until *stop becomes nonzero
 * (e.g. from a signal handler), then waits for the running sessions to end;
 * returns 0, or -errno if accepting fails. */
int zc_place_server_run(struct zc_place_server *s, volatile sig_atomic_t *stop);
/* Accepts one connection and serves its session in this process; the
 * session's result (0 when the peer ended cleanly). */
int zc_place_server_accept_one(struct zc_place_server *s);
/* Serves one session on a connected socket in this process (the child of
 * zc_place_server_run does this); 0 when the peer ended cleanly, else the
 * reason the session ended.  st (may be NULL) receives the counters. */
int zc_place_serve_session(int fd, const struct zc_place_server_config *cfg,
                           struct zc_place_stats *st);
void zc_place_server_close(struct zc_place_server *s);

/* ---- the client: put files, trees and buffers; get files and trees ---- */
struct zc_place_client_config {
    const char *host;
    uint16_t port;
    const struct zc_keypair *key;
    const struct zc_pubkey *server; /* the server's public key */
    bool integrity_only;            /* payload in clear, MAC only */
    bool resume;                    /* continue interrupted uploads */
    unsigned streams;               /* connections for a file >= 64 MiB (1..16); 0: 1 */
    /* Integrity-only payloads by sendfile from the page cache: 1 always,
     * -1 never (sent from the buffer the MAC read), 0 (default) unless the
     * server is on a loopback address, where the copy costs less. */
    int sendfile;
    unsigned idle_timeout_ms; /* 0: 30000 */
    /* Called (may be NULL) as payload moves, from the thread that moved it
     * (several at once when a file is split over streams): done more bytes
     * were sent, received, or found already in place by a resume; a get
     * also announces each file's size as more_total when the server offers
     * it (a put's total is the caller's to know: it is 0 there). */
    void (*progress)(void *arg, uint64_t done, uint64_t more_total);
    void *progress_arg;
    /* What zc_place_get() lets the server do to the local directory.  The
     * answer is bound to the request: only the requested name (a file, or a
     * directory and what lies beneath it) is placed, modes apply only to
     * directories the get created, no file is ever split, and with
     * encryption asked for, no payload may arrive in clear. */
    bool force;         /* replace existing files (else: -EEXIST, unless a resume
                           finds the same file there) */
    unsigned max_files; /* files and directories one get may place; 0: no cap */
    uint64_t max_bytes; /* bytes one get may announce; 0: no cap */
};

struct zc_place_client;

/* Connects and runs the handshake; 0 with *out set, or what the server
 * said before any session existed (an unauthenticated hint, docs/PROTOCOL.md):
 * -EBUSY (at its session limit or its limit of unauthenticated
 * connections), -EKEYREJECTED (it could not decrypt our initiation: cfg->server
 * is not its key), -EACCES (our key is not authorized), -ESTALE (our
 * timestamp is not newer than one it accepted from our key: a clock set
 * back); -EBADMSG when its response fails to verify (it did not prove it
 * holds cfg->server's key), -ECONNRESET when it hung up without a reason,
 * or -errno. */
int zc_place_client_connect(struct zc_place_client **out, const struct zc_place_client_config *cfg);
/* Uploads len bytes at buf as the file dest (relative to the server's
 * root) with permission bits mode and the current time as mtime.  Returns
 * once sent; zc_place_client_finish() says whether the server placed it. */
int zc_place_put_buffer(struct zc_place_client *c, const char *dest, const void *buf, size_t len,
                        mode_t mode);
/* Uploads the file or directory tree src as dest (modes and mtimes kept;
 * symlinks and special files are skipped with a warning). */
int zc_place_put_path(struct zc_place_client *c, const char *src, const char *dest);
/* Sends nothing more and waits until the server confirmed every file put
 * so far as verified, fsync'd and renamed into place; 0 or the first error. */
int zc_place_client_finish(struct zc_place_client *c);
/* Downloads the file or tree src (relative to the server's root) into the
 * local directory localdir, under the same verification and atomic
 * placement as the server; 0 when all of it is in place.  A server whose
 * answer leaves what was asked (another name, a path outside localdir, a
 * split file, clear data to an encrypted get) is -EPROTO; a cap of the
 * config passed is -EDQUOT; an existing file without force is -EEXIST.
 * Nothing but the requested name is ever placed; on a failure no file
 * that was not yet complete is published, and when the requested
 * directory is new, the empty directories the get made are removed. */
int zc_place_get(struct zc_place_client *c, const char *src, const char *localdir);
/* Why the last call failed, beyond its errno ("" when nothing more is
 * known): the server's words when it refused ("server: ..."), or what this
 * side refused of the server's answer.  Names a peer chose are escaped
 * (zc_escape()). */
const char *zc_place_client_error(const struct zc_place_client *c);
/* Counters so far. */
void zc_place_client_stats(const struct zc_place_client *c, struct zc_place_stats *st);
/* Closes the connection and frees c (NULL is fine). */
void zc_place_client_close(struct zc_place_client *c);

#ifdef __cplusplus
}
#endif

#endif /* ZC_PLACE_H */
