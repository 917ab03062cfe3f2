/* writer.c - the piece-writing thread (see writer.h).
 *
 * A ring of PLACE_WRITER_SLOTS buffers under one mutex: the receiving
 * thread fills slot `head` and queues it, the writer writes slot `tail`
 * with the mutex released and frees it.  Slots between tail and head are
 * queued; the receiver owns slot head only while fewer than all are.
 */
#define _GNU_SOURCE
#include "writer.h"

#include "zc/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct slot {
    int fd;
    uint64_t off;
    uint32_t len;
};

struct place_writer {
    pthread_mutex_t mu;
    pthread_cond_t queued; /* the writer waits for work or stop */
    pthread_cond_t freed;  /* the receiver waits for a free slot or the drain */
    pthread_t thread;
    struct slot slot[PLACE_WRITER_SLOTS];
    uint8_t *buf;
    size_t piece;
    unsigned head, tail, count; /* count: queued, not yet written */
    bool stop;
    int err;
};

static void *run(void *arg)
{
    struct place_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->count && !w->stop)
            pthread_cond_wait(&w->queued, &w->mu);
        if (!w->count)
            break;
        struct slot s = w->slot[w->tail];
        const uint8_t *b = w->buf + (size_t)w->tail * w->piece;
        int err = w->err;
        pthread_mutex_unlock(&w->mu);
        if (!err) /* after an error the rest is only dropped */
            err = zc_pwrite_all(s.fd, b, s.len, s.off);
        pthread_mutex_lock(&w->mu);
        if (err && !w->err)
            w->err = err;
        w->tail = (w->tail + 1) % PLACE_WRITER_SLOTS;
        w->count--;
        pthread_cond_signal(&w->freed);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int place_writer_new(struct place_writer **out, size_t piece)
{
    struct place_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->piece = piece;
    w->buf = malloc(PLACE_WRITER_SLOTS * piece);
    if (!w->buf) {
        free(w);
        return -ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->queued, NULL);
    pthread_cond_init(&w->freed, NULL);
    int r = pthread_create(&w->thread, NULL, run, w);
    if (r) {
        pthread_cond_destroy(&w->freed);
        pthread_cond_destroy(&w->queued);
        pthread_mutex_destroy(&w->mu);
        free(w->buf);
        free(w);
        return -r;
    }
    *out = w;
    return 0;
}

uint8_t *place_writer_buffer(struct place_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->count == PLACE_WRITER_SLOTS && !w->err)
        pthread_cond_wait(&w->freed, &w->mu);
    uint8_t *b = w->err ? NULL : w->buf + (size_t)w->head * w->piece;
    pthread_mutex_unlock(&w->mu);
    return b;
}

int place_writer_queue(struct place_writer *w, int fd, uint64_t off, uint32_t len)
{
    pthread_mutex_lock(&w->mu);
    int err = w->err;
    if (!err) {
        w->slot[w->head] = (struct slot){fd, off, len};
        w->head = (w->head + 1) % PLACE_WRITER_SLOTS;
        w->count++;
        pthread_cond_signal(&w->queued);
    }
    pthread_mutex_unlock(&w->mu);
    return err;
}

int place_writer_drain(struct place_writer *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (w->count)
        pthread_cond_wait(&w->freed, &w->mu);
    int err = w->err;
    pthread_mutex_unlock(&w->mu);
    return err;
}

void place_writer_free(struct place_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->queued);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL); /* it writes what is queued, then stops */
    pthread_cond_destroy(&w->freed);
    pthread_cond_destroy(&w->queued);
    pthread_mutex_destroy(&w->mu);
    free(w->buf);
    free(w);
}
