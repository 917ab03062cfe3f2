/* cmd.h - the `zc` subcommands.  Each takes (argc, argv) with argv[0] the
 * subcommand's name, parses its own options with getopt_long, answers
 * --help, and returns an exit code: ZC_EXIT_OK, ZC_EXIT_FAIL (one clear line
 * on stderr) or ZC_EXIT_USAGE.
 */
#ifndef ZC_TOOLS_CMD_H
#define ZC_TOOLS_CMD_H

#include <stdint.h>

/* No <mpi.h> here: only the commands that run MPI include it. */
struct zc_fb;
struct zc_insitu_frame;

int cmd_keygen(int argc, char **argv);  /* cmd_keygen.c */
int cmd_serve(int argc, char **argv);   /* cmd_place.c */
int cmd_put(int argc, char **argv);     /* cmd_place.c */
int cmd_get(int argc, char **argv);     /* cmd_place.c */
int cmd_broker(int argc, char **argv);  /* cmd_seal.c */
int cmd_channel(int argc, char **argv); /* cmd_seal.c */
int cmd_ingest(int argc, char **argv);  /* cmd_ingest.c */
int cmd_render(int argc, char **argv);  /* cmd_vol.c */
int cmd_mesh(int argc, char **argv);    /* cmd_vol.c */
int cmd_insitu(int argc, char **argv);  /* cmd_insitu.c */
/* One composited frame at rank 0 for a zc insitu consumer: its index in
 * the run (0, 1, ...), and what zc_insitu_encode_png() needs to write the
 * same bytes as zc insitu --out (NULL for plain frames, zc insitu --plain). */
typedef void (*insitu_frame_sink)(void *arg, const struct zc_fb *fb, unsigned frame,
                                  const struct zc_insitu_frame *png_info);
/* What zc insitu measured, at rank 0, over the whole run. */
struct insitu_figures {
    unsigned frames;
    uint64_t image_bytes;     /* one RGBA frame */
    uint64_t composite_bytes; /* all frames, all ranks */
    uint64_t busiest_bytes;   /* summed over frames: the most one rank sent */
    uint64_t gather_bytes;    /* a frame: the whole field to rank 0 */
};
/* One more consumer of zc insitu's run at rank 0: frame gets each final
 * frame; done, when set, gets the figures at the end in place of the
 * summary on stdout (its caller owns the console: no progress line). */
struct insitu_consumer {
    insitu_frame_sink frame;
    void (*done)(void *arg, const struct insitu_figures *f);
    void *arg;
};
/* zc insitu with consumer c (NULL: plain zc insitu); the exit code. */
int cmd_insitu_with_sink(int argc, char **argv, const struct insitu_consumer *c);
int cmd_demo(int argc, char **argv); /* cmd_demo.c */
int cmd_view(int argc, char **argv); /* cmd_view.c */
/* `zc view --frames FRAMES --listen LISTEN` in a child process (zc demo
 * --view): returns once it serves, its address line passed on to stdout,
 * with *pid; or -errno (said on stderr; the viewer says why it did not
 * start).  view_stop() ends it (SIGTERM) and reaps it: 0, or -EIO when it
 * did not exit cleanly. */
int view_start(const char *frames, const char *listen_spec, int *pid);
int view_stop(int pid);
int cmd_vhost(int argc, char **argv); /* cmd_vhost.c */
/* Makes dir, or empties it of the frames an earlier zc insitu run wrote
 * there (regular files named frame_NNNNNNNN.png), *removed of them; nothing
 * else in it is touched.  0 or -errno, said on stderr. */
int insitu_prepare_frames(const char *dir, unsigned *removed);

#endif
