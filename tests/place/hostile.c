/* hostile.c - the hostile server of hostile.h: a listener, and one thread
 * a connection that speaks the place protocol through the library's own
 * connection code (place_conn_*), so that every frame it sends passes the
 * client's tag checks and only what the frames say is under test. */
#define _GNU_SOURCE
#include "hostile.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HOSTILE_WAIT_MS 10000 /* for the client to connect, and to send */

struct hostile {
    int lfd;
    uint16_t port;
    struct zc_keypair server;
    struct zc_pubkey client;
    hostile_play_fn play;
    void *arg;
    pthread_t thread;
    bool played;
};

int hostile_open(struct hostile **out, const struct zc_keypair *server,
                 const struct zc_pubkey *client)
{
    struct hostile *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->server = *server;
    h->client = *client;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(h->lfd, 4) ||
        getsockname(h->lfd, (struct sockaddr *)&a, &al)) {
        int r = -errno;
        hostile_close(h);
        return r;
    }
    h->port = ntohs(a.sin_port);
    *out = h;
    return 0;
}

uint16_t hostile_port(const struct hostile *h)
{
    return h->port;
}

static void *hostile_main(void *arg)
{
    struct hostile *h = arg;
    struct pollfd lp = {h->lfd, POLLIN, 0};
    if (poll(&lp, 1, HOSTILE_WAIT_MS) != 1)
        return NULL;
    int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
    struct place_conn c;
    if (fd < 0 || place_conn_init(&c, fd, HOSTILE_WAIT_MS)) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    static __thread uint8_t buf[PLACE_MAX_CTRL + 1];
    if (!place_conn_handshake_server(&c, &h->server, &h->client, 1) &&
        !place_conn_recv_ctrl(&c, buf) && c.rx_cur.type == PLACE_GET) {
        buf[c.rx_cur.length] = '\0';
        h->play(&c, (const char *)buf, h->arg);
        h->played = true;
        shutdown(c.fd, SHUT_WR);
        /* Until the client closes: closing first could reset the link
         * before the client has read what was sent. */
        while (recv(c.fd, buf, sizeof(buf), 0) > 0)
            ;
    }
    place_conn_destroy(&c);
    return NULL;
}

int hostile_serve(struct hostile *h, hostile_play_fn play, void *arg)
{
    h->play = play;
    h->arg = arg;
    h->played = false;
    return -pthread_create(&h->thread, NULL, hostile_main, h);
}

bool hostile_wait(struct hostile *h)
{
    pthread_join(h->thread, NULL);
    return h->played;
}

void hostile_close(struct hostile *h)
{
    if (!h)
        return;
    if (h->lfd >= 0)
        close(h->lfd);
    zc_wipe(&h->server, sizeof(h->server));
    free(h);
}

int hostile_send_open(struct place_conn *c, uint8_t flags, uint32_t id, const struct place_open *o)
{
    uint8_t b[PLACE_OPEN_FIXED + ZC_PLACE_MAX_PATH + PLACE_SPLIT_BYTES];
    int n = place_open_encode(o, b, sizeof(b));
    return n < 0 ? n : place_conn_send(c, PLACE_OPEN, flags, id, 0, b, (uint32_t)n);
}

int hostile_send_file(struct place_conn *c, uint8_t flags, uint32_t id, const char *path,
                      const void *data, uint32_t len, uint32_t mode)
{
    struct place_open o = {.size = len, .mtime_sec = 1700000000, .mode = mode};
    snprintf(o.path, sizeof(o.path), "%s", path);
    int r = hostile_send_open(c, flags, id, &o);
    if (!r && len)
        r = place_conn_send(c, PLACE_DATA, flags & PLACE_FLAG_CLEAR_DATA ? PLACE_FLAG_CLEAR : 0, id,
                            0, data, len);
    return r ? r : place_conn_send(c, PLACE_CLOSE, 0, id, 0, NULL, 0);
}

int hostile_send_dir(struct place_conn *c, const char *path, uint32_t mode)
{
    struct place_open o = {.mtime_sec = 1700000000, .mode = mode};
    snprintf(o.path, sizeof(o.path), "%s", path);
    return hostile_send_open(c, PLACE_FLAG_DIR, 0, &o);
}
