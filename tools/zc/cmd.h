/* cmd.h - the `zc` subcommands.  Each takes (argc, argv) with argv[0] the
 * subcommand's name, parses its own options with getopt_long, answers
 * --help, and returns an exit code: ZC_EXIT_OK, ZC_EXIT_FAIL (one clear line
 * on stderr) or ZC_EXIT_USAGE.
 */
#ifndef ZC_TOOLS_CMD_H
#define ZC_TOOLS_CMD_H

#include "zc/composite.h"

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
/* zc insitu, handing each final frame at rank 0 to sink as well. */
int cmd_insitu_with_sink(int argc, char **argv, zc_composite_sink sink, void *arg);
int cmd_demo(int argc, char **argv); /* cmd_demo.c */
int cmd_vhost(int argc, char **argv); /* cmd_vhost.c */
/* Makes dir, or empties it of the frames an earlier zc insitu run wrote
 * there (regular files named frame_NNNNNNNN.png), *removed of them; nothing
 * else in it is touched.  0 or -errno, said on stderr. */
int insitu_prepare_frames(const char *dir, unsigned *removed);

/* zc bench NAME: the benchmark programs under bench/. */
int cmd_bench_ring(int argc, char **argv);   /* bench/ring.c */
int cmd_bench_seal(int argc, char **argv);   /* bench/seal.c */
int cmd_bench_stream(int argc, char **argv); /* bench/stream.c */
int cmd_bench_fb(int argc, char **argv);     /* bench/fb.c */
int cmd_bench_vhost(int argc, char **argv);  /* bench/vhost.c */

#endif
