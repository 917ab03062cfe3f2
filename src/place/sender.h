/* sender.h - the sending side: files, trees and buffers as place frames.
 * Used by `zc put` (client) and by `zc serve` answering a get. */
#ifndef ZC_PLACE_SENDER_H
#define ZC_PLACE_SENDER_H

#include "conn.h"

#include <sys/stat.h>

#define PLACE_SEND_CHUNK                                                                           \
    (1024u << 10) /* payload per DATA frame (measured: fewer, larger frames win) */

struct place_sender {
    struct place_conn *conn;
    bool clear;    /* integrity-only */
    bool resume;   /* ask the receiver where to start each file */
    bool sendfile; /* integrity-only payloads leave by sendfile (else from the MAC's buffer) */
    uint32_t next_id;
    void (*progress)(void *arg, uint64_t done, uint64_t more_total); /* NULL: none */
    void *progress_arg;
    /* Called between chunks and after each file with opened == 0 to take in
     * what the receiver said so far (without blocking), and with opened set
     * to wait for the OPENED answer of that file id; 0 or -errno.  NULL
     * when the receiver never answers (a get). */
    int (*poll)(void *ctx, uint32_t opened, uint64_t *resume_at);
    /* Sends a large regular file over several streams; NULL: never. */
    int (*send_split)(void *ctx, int fd, const struct stat *st, const char *dest);
    void *ctx;
};

/* Files this large go through send_split when there is one. */
#define PLACE_SPLIT_MIN (64u << 20)

/* Sends the regular file or directory tree open at fd as dest; 0 or -errno. */
int place_send_fd(struct place_sender *s, int fd, const char *dest);
/* Sends part index of parts of the regular file fd (transfer names the
 * split transfer, the same for every part); 0 or -errno. */
int place_send_part(struct place_sender *s, int fd, const struct stat *st, const char *dest,
                    const uint8_t transfer[16], uint32_t parts, uint32_t index);
/* Sends len bytes at buf as the file dest; 0 or -errno. */
int place_send_buffer(struct place_sender *s, const void *buf, size_t len, uint32_t mode,
                      const struct timespec *mtime, const char *dest);

#endif /* ZC_PLACE_SENDER_H */
