/* plot.c - gnuplot for the benchmarks (see plot.h). */
#define _GNU_SOURCE
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_plot_open(struct bench_plot *p, const char *path)
{
    *p = (struct bench_plot){.script_fd = -1, .png_fd = -1, .err_fd = -1};
    int err = zc_output_open(&p->out, path);
    if (err)
        return err;
    p->script_fd = memfd_create("plot-script", MFD_CLOEXEC);
    p->png_fd = memfd_create("plot-png", MFD_CLOEXEC);
    p->err_fd = memfd_create("plot-stderr", MFD_CLOEXEC);
    int dup_fd = p->script_fd >= 0 ? fcntl(p->script_fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dup_fd >= 0 && p->png_fd >= 0 && p->err_fd >= 0)
        p->script = fdopen(dup_fd, "w");
    if (!p->script) {
        err = -errno;
        if (dup_fd >= 0)
            close(dup_fd);
        bench_plot_abort(p);
    }
    return err;
}

void bench_plot_abort(struct bench_plot *p)
{
    if (p->script)
        fclose(p->script);
    p->script = NULL;
    int *fds[] = {&p->script_fd, &p->png_fd, &p->err_fd};
    for (size_t i = 0; i < ZC_ARRAY_SIZE(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    zc_output_abort(&p->out);
}

/* gnuplot with the three memory files as its stdin, stdout and stderr;
 * its exit status, or -errno when it could not be started. */
static int run_gnuplot(const struct bench_plot *p)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        if (dup2(p->script_fd, STDIN_FILENO) < 0 || dup2(p->png_fd, STDOUT_FILENO) < 0 ||
            dup2(p->err_fd, STDERR_FILENO) < 0)
            _exit(126);
        execlp("gnuplot", "gnuplot", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The last non-empty line gnuplot wrote on stderr, into p->why. */
static void keep_complaint(struct bench_plot *p)
{
    char text[4096];
    ssize_t n = pread(p->err_fd, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        *--end = '\0';
    char *line = strrchr(text, '\n');
    snprintf(p->why, sizeof(p->why), "%s", line ? line + 1 : text);
}

/* Copies the picture from its memory file to the output. */
static int copy_png(struct bench_plot *p)
{
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(p->png_fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return off ? 0 : -EIO; /* gnuplot said nothing wrong but drew nothing */
        int err = zc_output_write(&p->out, buf, (size_t)n);
        if (err)
            return err;
        off += n;
    }
}

int bench_plot_draw(struct bench_plot *p)
{
    int err = fclose(p->script) != 0 ? -errno : 0;
    p->script = NULL;
    if (!err && lseek(p->script_fd, 0, SEEK_SET) != 0) /* the stream moved the shared offset */
        err = -errno;
    int status = err ? 0 : run_gnuplot(p);
    if (!err && status < 0)
        err = status;
    else if (!err && status == 127)
        err = -ENOENT;
    else if (!err && status != 0) {
        keep_complaint(p);
        err = -EIO;
    }
    if (!err)
        err = copy_png(p);
    if (!err)
        err = zc_output_commit(&p->out);
    bench_plot_abort(p);
    return err;
}
