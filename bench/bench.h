/* bench.h - the benchmark programs of `zc bench NAME` (the zc_bench
 * library, linked by the zc command and the tests).  Each takes (argc,
 * argv) with argv[0] the benchmark's name, parses its own options, answers
 * --help, and returns an exit code of cli.h (ZC_EXIT_*).  The engines they
 * share have their own headers: ring_stream.h (two processes streaming
 * through the ring, a pipe or a socket) and plot.h (gnuplot pictures).
 * bench/composite_scale.c is a program of its own (run under mpirun), not
 * part of this library.
 */
#ifndef ZC_BENCH_BENCH_H
#define ZC_BENCH_BENCH_H

int cmd_bench_ring(int argc, char **argv);   /* bench/ring.c */
int cmd_bench_seal(int argc, char **argv);   /* bench/seal.c */
int cmd_bench_stream(int argc, char **argv); /* bench/stream.c */
int cmd_bench_fb(int argc, char **argv);     /* bench/fb.c */
int cmd_bench_vhost(int argc, char **argv);  /* bench/vhost.c */

#endif
