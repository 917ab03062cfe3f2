/* fuzz_place_client.c - the client side of `zc get`: whatever frames a
 * server holding its key may send, after a real handshake.
 *
 * The input is the server's answer: byte 0 picks the client's options
 * (1: integrity-only, 2: resume, 4: force), then records
 * {type, flags, file id, offset (u16 LE), length (u8), payload} that a
 * hostile server (tests/place/hostile.c) seals and sends, one frame each,
 * to a client that asked for "top".  The fuzzer explores what frames say,
 * not the AEAD (fuzz_place_wire and the tag cover those bytes).
 * Invariants, whatever the answer: nothing appears beside the local
 * directory, nothing in it but "top" and the placer's own ".zc-" files,
 * and a file the user had there is untouched.
 */
#define _GNU_SOURCE
#include "hostile.h"

#include "zc/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEEP_TEXT "the user's own\n"

static char scratch[256], local[300], keep[320];
static struct zc_keypair server_key, client_key;
static struct zc_pubkey server_pub, client_pub;
static struct hostile *evil;

struct answer {
    const uint8_t *data;
    size_t size;
};

static void play(struct place_conn *c, const char *get, void *arg)
{
    (void)get;
    const struct answer *a = arg;
    for (size_t i = 0; i + 6 <= a->size;) {
        const uint8_t *r = a->data + i;
        size_t len = ZC_MIN((size_t)r[5], a->size - i - 6);
        if (place_conn_send(c, r[0], r[1], r[2], (uint64_t)r[3] | (uint64_t)r[4] << 8, r + 6,
                            (uint32_t)len))
            return;
        i += 6 + len;
    }
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type;
    if (ftw->level > 0 && strcmp(path, keep) != 0)
        remove(path);
    return 0;
}

static void cleanup(void)
{
    nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    remove(keep);
    rmdir(local);
    rmdir(scratch);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof(scratch), "%s/zc-fuzz-client.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch))
        abort();
    snprintf(local, sizeof(local), "%s/local", scratch);
    snprintf(keep, sizeof(keep), "%s/keep", local);
    int fd;
    if (mkdir(local, 0755) || (fd = open(keep, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        zc_write_all(fd, KEEP_TEXT, strlen(KEEP_TEXT)))
        abort();
    close(fd);
    atexit(cleanup);
    signal(SIGPIPE, SIG_IGN);
    if (zc_keypair_generate(&server_key) || zc_keypair_generate(&client_key))
        abort();
    memcpy(server_pub.key, server_key.pub, ZC_KEY_BYTES);
    memcpy(client_pub.key, client_key.pub, ZC_KEY_BYTES);
    if (hostile_open(&evil, &server_key, &client_pub))
        abort();
}

/* Nothing beside local; in local only keep (as it was), top and ".zc-" files. */
static void check_and_clear(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "local"))
            abort();
    closedir(d);
    d = opendir(local);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "keep") &&
            strcmp(e->d_name, "top") && strncmp(e->d_name, ".zc-", 4))
            abort();
    closedir(d);
    char text[64] = "";
    struct stat st;
    int fd = open(keep, O_RDONLY | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) || (st.st_mode & 07777) != 0600 ||
        read(fd, text, sizeof(text)) != (ssize_t)strlen(KEEP_TEXT) ||
        memcmp(text, KEEP_TEXT, strlen(KEEP_TEXT)))
        abort();
    close(fd);
    nftw(local, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!evil)
        setup();
    if (size < 1)
        return 0;
    struct answer a = {data + 1, size - 1};
    if (hostile_serve(evil, play, &a))
        abort();
    struct zc_place_client_config cfg = {
        .host = "127.0.0.1",
        .port = hostile_port(evil),
        .key = &client_key,
        .server = &server_pub,
        .integrity_only = data[0] & 1,
        .resume = data[0] & 2,
        .force = data[0] & 4,
        .max_files = 32,
        .max_bytes = 1u << 20,
        .idle_timeout_ms = 2000,
    };
    struct zc_place_client *c;
    if (zc_place_client_connect(&c, &cfg))
        abort();
    zc_place_get(c, "top", local);
    if (strchr(zc_place_client_error(c), '\x1b'))
        abort(); /* names the server chose reach no terminal raw */
    zc_place_client_close(c);
    hostile_wait(evil);
    check_and_clear();
    return 0;
}
