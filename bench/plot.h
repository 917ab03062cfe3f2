/* plot.h - the one way benchmarks draw: a gnuplot script piped to gnuplot,
 * the PNG written to PATH.tmp and renamed into place only when gnuplot
 * succeeded, so a failed plot never leaves a half-written picture. */
#ifndef ZC_BENCH_PLOT_H
#define ZC_BENCH_PLOT_H

#include <stddef.h>
#include <stdio.h>

struct bench_plot {
    FILE *gnuplot;  /* write the data and the script here */
    char tmp[4096]; /* where the script must `set output` */
    const char *path;
};

/* Starts gnuplot for a PNG at path; 0, -EINVAL for a path gnuplot cannot
 * quote, -ENAMETOOLONG, or -errno when gnuplot cannot be started. */
int bench_plot_open(struct bench_plot *p, const char *path);
/* Waits for gnuplot and renames the picture into place; 0, -ENOENT when
 * gnuplot is not installed, -EIO when it failed, or -errno. */
int bench_plot_close(struct bench_plot *p);

#endif
