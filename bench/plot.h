/* plot.h - the one way benchmarks (and zc demo) draw: a gnuplot script run
 * by gnuplot, the PNG written to the plot's output.
 *
 * The output is opened first, before the measurement it will show, so that
 * a path that cannot be written fails before the work starts.  gnuplot
 * never sees that path nor our stdout: its script comes from a memory file,
 * its picture goes to another (its stdout), and only a picture gnuplot
 * finished is written to the output (zc_output: a regular file replaced
 * whole, a FIFO or a device written through).
 */
#ifndef ZC_BENCH_PLOT_H
#define ZC_BENCH_PLOT_H

#include "zc/base.h"

#include <stdio.h>

struct bench_plot {
    FILE *script; /* write the data and the script here: a PNG terminal, no `set output` */
    int script_fd, png_fd, err_fd; /* memory files: gnuplot's stdin, stdout, stderr */
    struct zc_output out;
    char why[256]; /* gnuplot's last line on stderr when it failed */
};

/* Opens the plot's output at path and its script; 0 or -errno (the
 * output's: ENOENT, ENOTDIR, EACCES, EISDIR ...). */
int bench_plot_open(struct bench_plot *p, const char *path);
/* Runs gnuplot over the script and publishes its picture; the plot is
 * closed either way.  0, -ENOENT when gnuplot is not installed, -EIO when
 * gnuplot failed (its words in p->why), or the output's -errno (ENOSPC ...). */
int bench_plot_draw(struct bench_plot *p);
/* Closes the plot without drawing; the output gets nothing. */
void bench_plot_abort(struct bench_plot *p);

#endif
