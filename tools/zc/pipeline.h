/* pipeline.h - the pipeline of `zc demo` (the zc_demo library): frames
 * from rank 0 of `zc insitu` through a shared-memory ring to an uploader
 * process, which sends each one straight out of its ring slot to a local
 * `zc serve`.  docs/ARCHITECTURE.md draws it among the parts.  One file a
 * job: pipeline_sink.c (rank 0), uploader.c, supervisor.c (the stage).
 *
 *   zc insitu rank 0 (ring driver)        uploader (ring device)       zc serve
 *   encodes each frame as PNG straight    reads the header once,       writes each
 *   into a free slot, posts a chain   ->  sends the PNG from the   ->  frame straight
 *   {header, PNG}; slots come back        slot with place, returns     into its file
 *   through the used ring                 the chain
 *
 * A slot of the buffer region holds one frame:
 *
 *   +0   frame header, 16 bytes: le32 magic "zcf1", le32 0, le64 frame number
 *   +16  the PNG, at most pipeline_png_bound(width, height) bytes
 *
 * Functions return 0 or a negative errno.
 */
#ifndef ZC_TOOLS_PIPELINE_H
#define ZC_TOOLS_PIPELINE_H

#include "cmd.h"
#include "zc/base.h"
#include "zc/crypto.h"
#include "zc/fb.h"

struct zc_insitu_frame; /* zc/insitu.h */

#include <stdint.h>

/* Bytes a frame header takes at the start of its slot, its magic, and the
 * last step a frame's name holds (frame_%08llu.png). */
#define PIPELINE_HEADER_BYTES 16
#define PIPELINE_FRAME_MAGIC  0x3166637au /* "zcf1" little-endian */
#define PIPELINE_MAX_STEP     99999999ull

/* The largest PNG a width x height RGBA frame can encode to (stored,
 * uncompressed deflate blocks included). */
size_t pipeline_png_bound(unsigned width, unsigned height);

/* ---- rank 0 of zc insitu: the ring's driver ---- */

struct pipeline_sink;

/* Connects to the uploader listening on the UNIX socket sock_path and sends
 * it a new ring whose slots fit width x height frames.  0 with *out set,
 * -EFBIG when a frame could outgrow a descriptor (4 GiB), or -errno. */
int pipeline_sink_open(struct pipeline_sink **out, const char *sock_path, unsigned width,
                       unsigned height);

/* Encodes fb (of the size given at open) as a PNG into a free slot and
 * posts it as frame number frame (from 0); waits up to 60 s for a slot to come back
 * when all are out.  0, -ETIMEDOUT, -EPIPE when the uploader is gone,
 * -ENOSPC when the PNG does not fit, -EPROTO. */
int pipeline_sink_frame(struct pipeline_sink *s, const struct zc_fb *fb, uint64_t frame,
                        const struct zc_insitu_frame *png_info);

/* Waits until the uploader has handed every slot back, then closes the
 * ring (the uploader sees the hang-up and finishes).  0 or the first error
 * of the waits; s is freed either way (NULL is fine). */
int pipeline_sink_close(struct pipeline_sink *s);

/* zc insitu's figures, as rank 0 hands them to the supervisor: one
 * record of PIPELINE_INSITU_REPORT_BYTES, all fields little-endian:
 *
 *   +0   le32 magic "zcr1"      +16  le64 composite bytes, all frames and ranks
 *   +4   le32 frames            +24  le64 busiest rank's bytes, summed over frames
 *   +8   le64 image bytes       +32  le64 gather bytes a frame
 */
#define PIPELINE_INSITU_REPORT_BYTES 40
#define PIPELINE_INSITU_REPORT_MAGIC 0x3172637au /* "zcr1" little-endian */

/* Writes f as one record into the FIFO at path (the supervisor holds its
 * read end open; a record is shorter than PIPE_BUF, so it lands whole).
 * 0, -ENXIO when no supervisor reads, or -errno. */
int pipeline_report_send(const char *path, const struct insitu_figures *f);

/* Reads the one record rank 0 left in fd (not blocking: the writer is
 * done).  0 with *f set, -ENODATA when none (or part of one) is there,
 * -EPROTO when it is not a report, or -errno. */
int pipeline_report_read(int fd, struct insitu_figures *f);

/* ---- the uploader: the ring's device and a place client ---- */

struct pipeline_upload_config {
    int listen_fd;    /* listening UNIX socket; rank 0 connects here */
    const char *host; /* zc serve's address */
    uint16_t port;
    const struct zc_keypair *key;   /* the uploader's identity */
    const struct zc_pubkey *server; /* zc serve's public key */
    int report_fd;                  /* a pipe for struct pipeline_report records, or -1 */
    int64_t idle_timeout_ns;        /* longest wait for rank 0 (the first connection too) */
    uint64_t steps, every;          /* zc insitu's: frame n shows step min((n+1)*every, steps) */
};

/* What the uploader reports, one record a frame and one at the end. */
enum pipeline_report_kind { PIPELINE_REPORT_FRAME = 1, PIPELINE_REPORT_DONE = 2 };
struct pipeline_report {
    uint32_t kind;
    uint32_t ring_bytes; /* FRAME: descriptor, ring-entry and header bytes of the frame */
    uint64_t a;          /* FRAME: the step; DONE: bytes written to zc serve (zc_place_stats) */
    uint64_t b;          /* FRAME: PNG bytes; DONE: payload bytes the server confirmed */
};

/* Accepts rank 0, takes the ring as its device, connects to zc serve and
 * puts each frame as frame_STEP.png (the names zc insitu --out gives)
 * straight from its slot, until rank 0
 * hangs up; then waits for the server to confirm every file.  A chain that
 * is not a well-formed frame (or names a frame beyond the last) ends the
 * run with -EPROTO before anything of it is sent.  0, -EINVAL for a bad
 * config, or -errno (logged). */
int pipeline_upload(const struct pipeline_upload_config *cfg);

/* ---- the demo stage: everything above, supervised ---- */

struct pipeline_opts {
    const char *out; /* frames land in OUT/frames */
    unsigned ranks, width, height;
    uint64_t grid, steps, every;
    unsigned timeout_s; /* the whole stage */
};

struct pipeline_summary {
    unsigned ranks, frames;
    uint64_t image_bytes;
    double composite_bytes;    /* per frame, all ranks together */
    double busiest_rank_bytes; /* per frame, the rank that sent most */
    double gather_bytes;       /* per frame, the whole field to rank 0 */
    uint64_t ring_bytes;       /* all frames: descriptors, ring entries, headers */
    uint64_t png_bytes;        /* all frames */
    uint64_t wire_bytes;       /* the uploader's socket writes, handshake included */
    uint64_t placed_bytes;     /* payload the server confirmed */
    double seconds;
    char frames_dir[4096];
};

/* Runs the pipeline: throwaway keys in a private temporary folder, zc serve
 * on a loopback port with root OUT/frames, the uploader, and `mpirun -np
 * RANKS zc demo --insitu-ring SOCK REPORT ...` (zc insitu handing each frame
 * at rank 0 to pipeline_sink_frame(), its figures to pipeline_report_send());
 * checks that every frame arrived whole.
 * Every child process and temporary file is gone when it returns.  0, or
 * -errno after one clear error line. */
int pipeline_run(const struct pipeline_opts *o, struct pipeline_summary *s);

/* The summary table: bytes at each hop against the copying alternative. */
void pipeline_print(const struct pipeline_summary *s, FILE *f);

/* The summary's fields into an open JSON object. */
void pipeline_json(const struct pipeline_summary *s, struct zc_json *j);

#endif
