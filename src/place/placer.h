/* placer.h - the receiving side: files confined beneath a root, chunks
 * placed in their pages, atomic publication.  Used by `zc serve` for
 * uploads and by the client for downloads. */
#ifndef ZC_PLACE_PLACER_H
#define ZC_PLACE_PLACER_H

#include "conn.h"

#include <limits.h>
#include <sys/types.h>
#include <time.h>

/* A session's directory list (paths for their mtimes) may hold this much. */
#define PLACE_MAX_DIR_BYTES (16u << 20)
/* Directories a session sweeps for stale leftovers (the first it places into). */
#define PLACE_SWEEP_DIRS 64

struct place_file {
    bool used, clear, complete_already, split;
    bool replace; /* may replace an existing file under the final name */
    uint32_t id;
    int dirfd, fd;
    char name[PLACE_MAX_NAME + 1];
    char tmp[NAME_MAX + 1]; /* fd's temporary name ("": none) */
    uint64_t part;          /* the random id in that name (a resume record keeps it) */
    dev_t dev;              /* fd's inode: what tmp must still name before */
    ino_t ino;              /* any rename or unlink of it */
    dev_t rec_dev;          /* the resume record this file continues */
    ino_t rec_ino;          /* (0: none), removed when the file is published */
    uint64_t size, next;    /* next: every byte below it is verified */
    uint64_t end;           /* this session's bytes end here (a split part: its range) */
    uint8_t transfer[16];
    uint32_t parts, index;
    struct timespec times[2];
    uint32_t mode;
};

struct place_dir_time {
    char *path;
    struct timespec mtime;
};

struct place_dir_id {
    dev_t dev;
    ino_t ino;
};

struct place_placer {
    int rootfd;
    uint64_t max_file_size;
    struct zc_pubkey peer; /* resume state is bound to the peer that wrote it */
    struct place_file files[PLACE_MAX_OPEN];
    struct place_file *pending; /* verified, waiting for one group fsync + rename */
    size_t npending, cap;
    uint64_t pending_bytes;
    struct place_dir_time *dirs; /* directory mtimes, set when the session ends */
    size_t ndirs, dircap;
    uint32_t *dir_index; /* open addressing over dirs by path: 1 + index, 0 free */
    size_t index_cap;
    size_t dir_bytes; /* what the list holds, against PLACE_MAX_DIR_BYTES */
    struct place_dir_id swept[PLACE_SWEEP_DIRS];
    size_t nswept;
    struct place_writer *writer; /* started at the first large chunk; NULL: write inline */
    bool no_writer;              /* it could not be started: write inline */
    /* Downloads (zc get) trust the sending server less than a server trusts
     * its authorized clients; the client sets these after init. */
    bool keep_existing; /* an existing file is never replaced (-EEXIST), unless a
                           resume finds it is the same file; no SPLIT (-EPROTO) */
    bool own_dirs_only; /* modes and mtimes only on directories this session
                           created; an existing one is never chmod'ed */
    struct zc_place_stats st;
    char msg[256]; /* why the last call failed, for the peer and the log */
};

/* openat2(dirfd, path, flags) confined beneath dirfd (no "..", no symlink
 * out, no magic links); the fd, -EACCES for an escape, or -errno. */
int place_openat_beneath(int dirfd, const char *path, int flags);

/* Called for each file as it is published (the server ACKs it). */
typedef int (*place_ack_fn)(void *ctx, uint32_t id, uint64_t size);

/* rootfd is borrowed; 0. */
int place_placer_init(struct place_placer *p, int rootfd, uint64_t max_file_size,
                      const struct zc_pubkey *peer);
/* Handles a verified OPEN (flags from its header): creates the directory,
 * or the temporary file with its space reserved; *resume_at is where the
 * sender must start (0 unless PLACE_FLAG_RESUME found verified bytes).
 * 0, -EACCES (path refused, or a directory others may rename in without
 * the sticky bit), -EEXIST (keep_existing), -E2BIG (the session's
 * directory list is full), -EPROTO, -EBUSY, -ENOSPC, -EFBIG or -errno. */
int place_placer_open(struct place_placer *p, uint32_t id, uint8_t flags,
                      const struct place_open *o, uint64_t *resume_at);
/* Handles the DATA frame whose header c has just received: checks it
 * against the open file, receives the payload into the file's pages at its
 * offset and verifies it; 0, -EPROTO or -EBADMSG. */
int place_placer_data(struct place_placer *p, struct place_conn *c);
/* Handles CLOSE: every byte must be verified; queues the file for
 * publication, publishing the queue when it is large (acks through ack). */
int place_placer_close(struct place_placer *p, uint32_t id, place_ack_fn ack, void *ctx);
/* Whether files wait for publication. */
static inline bool place_placer_has_pending(const struct place_placer *p)
{
    return p->npending != 0;
}
/* Publishes the queue: fsync, rename into place, fsync the directories;
 * -ESTALE when a temporary name no longer names the file written,
 * -EEXIST when keep_existing finds a file under a final name. */
int place_placer_commit(struct place_placer *p, place_ack_fn ack, void *ctx);
/* The session ended well: publishes the queue and sets directory mtimes. */
int place_placer_end(struct place_placer *p, place_ack_fn ack, void *ctx);
/* The session failed with err.  A broken connection or timeout keeps
 * verified work (queued files are published, partial files keep a resume
 * record); anything that smells of an attack (bad tag, protocol violation)
 * deletes every unpublished byte.  Frees everything. */
void place_placer_abort(struct place_placer *p, int err);
/* Frees what is left after end. */
void place_placer_destroy(struct place_placer *p);

#endif /* ZC_PLACE_PLACER_H */
