/* output.c - the one way a file given by name (-o PATH, --plot PATH) is
 * written, whatever is at PATH.
 *
 * The idea: only a regular file (or nothing yet) is replaced, and it is
 * replaced whole or not at all: the bytes go into a temporary beside it,
 * renamed over it once every byte is written and synced.  Anything else is
 * somebody's endpoint, not a file to replace: a FIFO, a terminal, a device
 * node, or a symlink to one of them (/dev/stdout) is opened and written
 * through, and the node itself is never removed or renamed over.  "-" is
 * standard output.
 *
 *   PATH is          writes go to                  commit
 *   ---------------  ----------------------------  ----------------------
 *   missing, file    PATH.tmp.XXXXXX beside it     fsync, rename over PATH
 *   link to a file   a temporary beside the file   rename over the file
 *   FIFO, device     PATH, opened O_WRONLY         close
 *   "-"              standard output               nothing to do
 */
#define _GNU_SOURCE /* mkostemp */
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NEW_FILE_MODE 0644

static void output_reset(struct zc_output *o)
{
    free(o->tmp);
    free(o->target);
    *o = (struct zc_output){.fd = -1};
}

/* A temporary beside target, to be renamed over it; mode is what the
 * published file gets. */
static int open_temporary(struct zc_output *o, const char *target, mode_t mode)
{
    size_t n = strlen(target) + sizeof(".tmp.XXXXXX");
    o->target = strdup(target);
    o->tmp = malloc(n);
    if (!o->target || !o->tmp)
        return -ENOMEM;
    snprintf(o->tmp, n, "%s.tmp.XXXXXX", target);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        free(o->tmp);
        o->tmp = NULL; /* nothing to remove */
        return -errno;
    }
    o->mode = (unsigned)mode;
    o->owned = true;
    return 0;
}

/* A node that is not a regular file, written through.  A FIFO's open waits
 * for a reader, as a shell's redirection does; a socket cannot be opened
 * (-ENXIO).  0, 1 when the path turned into a regular file meanwhile (the
 * caller replaces it instead), or -errno. */
static int open_through(struct zc_output *o, const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode)) {
        int err = S_ISREG(st.st_mode) ? 1 : -errno;
        close(fd);
        return err;
    }
    o->fd = fd;
    o->owned = true;
    return 0;
}

static int open_path(struct zc_output *o, const char *path)
{
    struct stat st, lst;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? open_temporary(o, path, NEW_FILE_MODE) : -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode)) {
        int r = open_through(o, path);
        return r == 1 ? open_path(o, path) : r;
    }
    mode_t mode = st.st_mode & 0777;
    if (lstat(path, &lst) != 0)
        return -errno;
    if (!S_ISLNK(lst.st_mode))
        return open_temporary(o, path, mode);
    /* A link to a file: the file is replaced, the link stays a link. */
    char *real = realpath(path, NULL);
    if (!real)
        return -errno;
    int err = open_temporary(o, real, mode);
    free(real);
    return err;
}

int zc_output_open(struct zc_output *o, const char *path)
{
    *o = (struct zc_output){.fd = -1};
    if (strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        return 0;
    }
    int err = open_path(o, path);
    if (err)
        zc_output_abort(o);
    return err;
}

/* A FIFO whose reader left raises SIGPIPE; the caller gets -EPIPE instead,
 * the process's disposition untouched. */
int zc_output_write(struct zc_output *o, const void *buf, size_t len)
{
    if (o->fd < 0)
        return -EBADF;
    if (o->tmp)
        return zc_write_all(o->fd, buf, len);
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int err = zc_write_all(o->fd, buf, len);
    if (err == -EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

int zc_output_commit(struct zc_output *o)
{
    int err = o->fd < 0 ? -EBADF : 0;
    if (!err && o->tmp && (fchmod(o->fd, o->mode) != 0 || fsync(o->fd) != 0))
        err = -errno;
    if (o->owned) {
        if (close(o->fd) != 0 && !err)
            err = -errno;
        o->owned = false;
        o->fd = -1;
    }
    if (!err && o->tmp && rename(o->tmp, o->target) != 0)
        err = -errno;
    if (!err) {
        free(o->tmp);
        o->tmp = NULL; /* published: nothing to remove */
    }
    zc_output_abort(o);
    return err;
}

void zc_output_abort(struct zc_output *o)
{
    if (o->owned)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    output_reset(o);
}
