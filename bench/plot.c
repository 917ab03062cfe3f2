/* plot.c - gnuplot for the benchmarks (see plot.h). */
#include "plot.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_plot_open(struct bench_plot *p, const char *path)
{
    if (strpbrk(path, "'\"\n\\"))
        return -EINVAL;
    if (snprintf(p->tmp, sizeof(p->tmp), "%s.tmp", path) >= (int)sizeof(p->tmp))
        return -ENAMETOOLONG;
    p->path = path;
    p->gnuplot = popen("gnuplot 2>/dev/null", "w");
    return p->gnuplot ? 0 : -errno;
}

int bench_plot_close(struct bench_plot *p)
{
    int st = pclose(p->gnuplot);
    if (st == -1)
        return -errno;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(p->tmp);
        return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -EIO;
    }
    if (rename(p->tmp, p->path) < 0) {
        int err = -errno;
        unlink(p->tmp);
        return err;
    }
    return 0;
}
