/* test_place_race.c - two honest clients upload the same name at once, one
 * of them split over two streams, in both orders, twenty rounds each.
 * Every session has its own temporary file and publishes exactly the inode
 * it wrote, so both uploads succeed, and the file left under the name is
 * byte for byte one of the two uploads: never a mix, never bytes the
 * acknowledged client did not send. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#define ROUNDS      20
#define PLAIN_BYTES (8u << 20)
#define SPLIT_BYTES ((64u << 20) + 4097) /* over the split threshold */

static struct harness h;
static char plain_src[300], split_src[300];
static uint8_t plain_sum[32], split_sum[32];

struct upload {
    const char *src, *dest;
    bool split;
    uint16_t port;
    int ret;
};

static void *upload_main(void *arg)
{
    struct upload *u = arg;
    struct zc_place_client *c;
    u->ret = u->split ? harness_connect_streams(&h, 2, true, &c)
                      : harness_connect(&h, u->port, &h.client, true, false, 5000, &c);
    if (u->ret)
        return NULL;
    u->ret = zc_place_put_path(c, u->src, u->dest);
    if (!u->ret)
        u->ret = zc_place_client_finish(c);
    if (u->ret)
        fprintf(stderr, "    %s upload of %s: %s (%s)\n", u->split ? "split" : "plain", u->dest,
                zc_strerror(u->ret), zc_place_client_error(c));
    zc_place_client_close(c);
    return NULL;
}

static void wait_for_temporary(void)
{
    for (int i = 0; i < 5000 && harness_count(h.root, ".zc-part.") <= 0; i++)
        usleep(1000);
}

/* The name holds one of the acknowledged uploads, whole; and both were
 * acknowledged (honest uploads never get in each other's way). */
static void check_published(const char *dest, const struct upload *plain,
                            const struct upload *split)
{
    char path[600];
    uint8_t sum[32];
    snprintf(path, sizeof(path), "%s/%s", h.root, dest);
    if (plain->ret && split->ret) {
        CHECK(access(path, F_OK) != 0);
    } else {
        CHECK_OK(harness_sha256(path, sum));
        CHECK((!plain->ret && memcmp(sum, plain_sum, 32) == 0) ||
              (!split->ret && memcmp(sum, split_sum, 32) == 0));
        CHECK_OK(unlink(path) ? -errno : 0);
    }
    CHECK_OK(plain->ret);
    CHECK_OK(split->ret);
    CHECK_EQ(harness_count(h.root, ".zc-"), 0);
}

/* The plain upload opens first and is held after its first chunk while
 * the split one starts; then both run. */
static void plain_then_split(int round)
{
    char dest[32];
    snprintf(dest, sizeof(dest), "race-%d", round);
    struct relay *r;
    struct upload plain = {.src = plain_src, .dest = dest};
    struct upload split = {.src = split_src, .dest = dest, .split = true};
    plain.port = relay_start(&r, h.port, RELAY_PAUSE, 1);
    pthread_t tp, ts;
    CHECK_OK(-pthread_create(&tp, NULL, upload_main, &plain));
    while (!relay_fired(r))
        usleep(1000);
    wait_for_temporary();
    CHECK_OK(-pthread_create(&ts, NULL, upload_main, &split));
    usleep(100000); /* the split parts have opened and are writing */
    relay_resume(r);
    pthread_join(tp, NULL);
    pthread_join(ts, NULL);
    relay_stop(r);
    check_published(dest, &plain, &split);
}

/* The split upload opens first; the plain one runs while its parts write. */
static void split_then_plain(int round)
{
    char dest[32];
    snprintf(dest, sizeof(dest), "race-%d", round);
    struct upload plain = {.src = plain_src, .dest = dest, .port = h.port};
    struct upload split = {.src = split_src, .dest = dest, .split = true};
    pthread_t tp, ts;
    CHECK_OK(-pthread_create(&ts, NULL, upload_main, &split));
    wait_for_temporary();
    CHECK_OK(-pthread_create(&tp, NULL, upload_main, &plain));
    pthread_join(tp, NULL);
    pthread_join(ts, NULL);
    check_published(dest, &plain, &split);
}

static void concurrent_uploads_of_one_name(void)
{
    for (int i = 0; i < ROUNDS; i++) {
        plain_then_split(2 * i);
        split_then_plain(2 * i + 1);
    }
}

int main(void)
{
    harness_init(&h);
    snprintf(plain_src, sizeof(plain_src), "%s/plain.bin", h.dir);
    snprintf(split_src, sizeof(split_src), "%s/split.bin", h.dir);
    harness_make_file(plain_src, PLAIN_BYTES, 11, 0644);
    harness_make_file(split_src, SPLIT_BYTES, 12, 0644);
    CHECK_OK(harness_sha256(plain_src, plain_sum));
    CHECK_OK(harness_sha256(split_src, split_sum));
    harness_start_server(&h, 5000, 0);
    RUN(concurrent_uploads_of_one_name);
    harness_stop_server(&h);
    return 0;
}
