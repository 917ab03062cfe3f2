/* test_keyfile.c - identity files: round trip, no overwrite, loose
 * permissions refused, and every malformed form refused. */
#include "zc_test.h"
#include "zc/base.h"
#include "zc/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

static const char *path_in(const char *name)
{
    static char p[2][600];
    static int i;
    i ^= 1;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    const char *p = path_in(name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    CHECK_OK(zc_write_all(fd, text, strlen(text)));
    CHECK(fchmod(fd, mode) == 0);
    close(fd);
}

static void test_roundtrip(void)
{
    struct zc_keypair kp, back;
    struct zc_pubkey pk;
    CHECK_OK(zc_keypair_generate(&kp));
    CHECK_OK(zc_keypair_save(path_in("alice"), &kp));
    struct stat st;
    CHECK(stat(path_in("alice.key"), &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_OK(zc_keypair_load(path_in("alice.key"), &back));
    CHECK(memcmp(&kp, &back, sizeof(kp)) == 0);
    CHECK_OK(zc_pubkey_load(path_in("alice.pub"), &pk));
    CHECK(memcmp(pk.key, kp.pub, 32) == 0);

    char line[96];
    CHECK_OK(zc_pubkey_format(&pk, line, sizeof(line)));
    CHECK(strncmp(line, "zc-x25519 ", 10) == 0);
    CHECK_EQ(zc_pubkey_format(&pk, line, 20), -ENOSPC);

    /* Never overwritten: the old key stays intact. */
    struct zc_keypair other;
    CHECK_OK(zc_keypair_generate(&other));
    CHECK(memcmp(other.priv, kp.priv, 32) != 0);
    CHECK_EQ(zc_keypair_save(path_in("alice"), &other), -EEXIST);
    CHECK_OK(zc_keypair_load(path_in("alice.key"), &back));
    CHECK(memcmp(&kp, &back, sizeof(kp)) == 0);
}

static void test_permissions(void)
{
    struct zc_keypair kp;
    CHECK(chmod(path_in("alice.key"), 0640) == 0);
    CHECK_EQ(zc_keypair_load(path_in("alice.key"), &kp), -EPERM);
    CHECK(chmod(path_in("alice.key"), 0604) == 0);
    CHECK_EQ(zc_keypair_load(path_in("alice.key"), &kp), -EPERM);
    CHECK(chmod(path_in("alice.key"), 0400) == 0);
    CHECK_OK(zc_keypair_load(path_in("alice.key"), &kp));
    /* Not through a symbolic link, not a directory, not a missing file. */
    CHECK(symlink(path_in("alice.key"), path_in("link.key")) == 0);
    CHECK_EQ(zc_keypair_load(path_in("link.key"), &kp), -ELOOP);
    CHECK_EQ(zc_keypair_load(dir, &kp), -EINVAL);
    CHECK_EQ(zc_keypair_load(path_in("missing.key"), &kp), -ENOENT);
    CHECK_EQ(zc_pubkey_load(path_in("missing.pub"), (struct zc_pubkey *)&kp), -ENOENT);
}

static void test_malformed(void)
{
    struct zc_keypair kp;
    struct zc_pubkey pk;
    CHECK_OK(zc_keypair_generate(&kp));
    CHECK_OK(zc_keypair_save(path_in("bob"), &kp));
    char good[96];
    memcpy(pk.key, kp.pub, 32);
    CHECK_OK(zc_pubkey_format(&pk, good, sizeof(good)));
    const char *b64 = good + 10;

    /* A private key is not a public key and the other way round. */
    CHECK_EQ(zc_pubkey_load(path_in("bob.key"), &pk), -EINVAL);
    write_file("pub-as-key.key", good, 0600);
    struct zc_keypair wrong;
    CHECK_EQ(zc_keypair_load(path_in("pub-as-key.key"), &wrong), -EINVAL);

    char bad[256];
    /* '@' stands for the key's base64. */
    const char *forms[] = {
        "",                           /* empty */
        "zc-x25519\n",                /* no key */
        "zc-x25519 AAAA\n",           /* short */
        "zc-ed25519 @\n",             /* another tag */
        "zc-x25519  @\n",             /* two spaces */
        "zc-x25519 @AA\n",            /* long */
        "zc-x25519 @\n\n",            /* two lines */
        "zc-x25519 @\nzc-x25519 @\n", /* two keys */
        "zc-x25519 @\r\n",            /* CR */
    };
    for (size_t i = 0; i < ZC_ARRAY_SIZE(forms); i++) {
        size_t n = 0;
        for (const char *f = forms[i]; *f; f++) {
            if (*f == '@') {
                memcpy(bad + n, b64, 44);
                n += 44;
            } else {
                bad[n++] = *f;
            }
        }
        bad[n] = '\0';
        write_file("bad.pub", bad, 0644);
        CHECK_EQ(zc_pubkey_load(path_in("bad.pub"), &pk), -EINVAL);
    }
    /* Non-canonical base64: the padding bits of the last character set. */
    snprintf(bad, sizeof(bad), "zc-x25519 %s\n", b64);
    char *last = bad + 10 + 42;
    *last = *last == 'A' ? 'B' : (char)(*last ^ 1);
    write_file("bad.pub", bad, 0644);
    CHECK_EQ(zc_pubkey_load(path_in("bad.pub"), &pk), -EINVAL);
    /* A character outside the alphabet. */
    snprintf(bad, sizeof(bad), "zc-x25519 %s\n", b64);
    bad[15] = '*';
    CHECK_EQ(zc_pubkey_parse(bad, strlen(bad), &pk), -EINVAL);
    /* A NUL inside. */
    snprintf(bad, sizeof(bad), "zc-x25519 %s\n", b64);
    bad[20] = '\0';
    CHECK_EQ(zc_pubkey_parse(bad, 10 + 44, &pk), -EINVAL);
    /* A comment after the key is fine in a public key, not in a private one. */
    snprintf(bad, sizeof(bad), "zc-x25519 %s bob@example\n", b64);
    CHECK_OK(zc_pubkey_parse(bad, strlen(bad), &pk));
    CHECK(memcmp(pk.key, kp.pub, 32) == 0);
    /* A huge file is refused before it is read. */
    char *huge = malloc(8192);
    CHECK(huge);
    memset(huge, 'A', 8191);
    huge[8191] = '\0';
    write_file("huge.pub", huge, 0644);
    free(huge);
    CHECK_EQ(zc_pubkey_load(path_in("huge.pub"), &pk), -EFBIG);
}

static void test_list(void)
{
    struct zc_keypair a, b;
    struct zc_pubkey pa, pb, *keys;
    size_t n;
    char la[96], lb[96], text[512];
    CHECK_OK(zc_keypair_generate(&a));
    CHECK_OK(zc_keypair_generate(&b));
    memcpy(pa.key, a.pub, 32);
    memcpy(pb.key, b.pub, 32);
    CHECK_OK(zc_pubkey_format(&pa, la, sizeof(la)));
    CHECK_OK(zc_pubkey_format(&pb, lb, sizeof(lb)));
    snprintf(text, sizeof(text), "# clients\n\n%s alice\n   \n  %s\n# end", la, lb);
    write_file("clients.pub", text, 0644);
    CHECK_OK(zc_pubkey_load_list(path_in("clients.pub"), &keys, &n));
    CHECK_EQ(n, 2);
    CHECK(memcmp(keys[0].key, a.pub, 32) == 0);
    CHECK(memcmp(keys[1].key, b.pub, 32) == 0);
    free(keys);

    /* Anyone who can write the list can let themselves in: refused. */
    CHECK(chmod(path_in("clients.pub"), 0666) == 0);
    CHECK_EQ(zc_pubkey_load_list(path_in("clients.pub"), &keys, &n), -EPERM);
    CHECK(chmod(path_in("clients.pub"), 0664) == 0);
    CHECK_EQ(zc_pubkey_load_list(path_in("clients.pub"), &keys, &n), -EPERM);
    CHECK(chmod(path_in("clients.pub"), 0640) == 0);
    CHECK_OK(zc_pubkey_load_list(path_in("clients.pub"), &keys, &n));
    free(keys);

    write_file("empty.pub", "# nobody yet\n", 0644);
    CHECK_OK(zc_pubkey_load_list(path_in("empty.pub"), &keys, &n));
    CHECK_EQ(n, 0);
    free(keys);

    snprintf(text, sizeof(text), "%s\nnot a key\n%s\n", la, lb);
    CHECK_EQ(zc_pubkey_parse_list(text, strlen(text), &keys, &n), -EINVAL);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-keyfile-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(dir));
    umask(022);
    RUN(test_roundtrip);
    RUN(test_permissions);
    RUN(test_malformed);
    RUN(test_list);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
