/* keyfile.c - X25519 identities and their files.
 *
 * A key is one line of text, a tag and the 32 key bytes in base64:
 *
 *   NAME.pub  "zc-x25519 <44 base64 chars>[ comment]\n"
 *   NAME.key  "zc-x25519-private <44 base64 chars>\n"        (mode 0600)
 *
 * The private tag differs from the public one so that a private key pasted
 * into an authorized-keys list is refused instead of being used (and
 * leaked) as a public key.  Parsing is strict: the base64 must be canonical
 * (decode, re-encode, compare), and a private key file must be a regular
 * file owned by the caller and unreadable by group and others, as ssh
 * demands of its keys.
 */
#include "zc/crypto.h"
#include "zc/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define PUB_TAG      "zc-x25519"
#define PRIV_TAG     "zc-x25519-private"
#define B64_CHARS    44         /* base64 of ZC_KEY_BYTES */
#define KEYFILE_MAX  4096       /* a key file is one short line */
#define LISTFILE_MAX (1u << 20) /* an authorized-keys list */

int zc_keypair_generate(struct zc_keypair *kp)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
    EVP_PKEY *pkey = NULL;
    int r = -EIO;
    size_t privlen = ZC_KEY_BYTES, publen = ZC_KEY_BYTES;
    if (ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &pkey) == 1 &&
        EVP_PKEY_get_raw_private_key(pkey, kp->priv, &privlen) == 1 &&
        EVP_PKEY_get_raw_public_key(pkey, kp->pub, &publen) == 1)
        r = 0;
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

/* The public half of a private key. */
static int public_of(const uint8_t priv[ZC_KEY_BYTES], uint8_t pub[ZC_KEY_BYTES])
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, ZC_KEY_BYTES);
    size_t publen = ZC_KEY_BYTES;
    int r = pkey && EVP_PKEY_get_raw_public_key(pkey, pub, &publen) == 1 ? 0 : -EINVAL;
    EVP_PKEY_free(pkey);
    return r;
}

/* "TAG <base64>" with the key into out (>= strlen(tag) + 46 bytes). */
static void format_key(const char *tag, const uint8_t key[ZC_KEY_BYTES], char *out)
{
    size_t t = strlen(tag);
    memcpy(out, tag, t);
    out[t] = ' ';
    EVP_EncodeBlock((unsigned char *)out + t + 1, key, ZC_KEY_BYTES);
}

/* Canonical base64 of exactly ZC_KEY_BYTES: 0 or -EINVAL. */
static int decode_key(const char *b64, uint8_t key[ZC_KEY_BYTES])
{
    unsigned char buf[36], again[B64_CHARS + 1];
    for (int i = 0; i < B64_CHARS; i++)
        if (b64[i] == '\0')
            return -EINVAL;
    if (EVP_DecodeBlock(buf, (const unsigned char *)b64, B64_CHARS) != 33)
        return -EINVAL;
    EVP_EncodeBlock(again, buf, ZC_KEY_BYTES);
    int same = memcmp(again, b64, B64_CHARS) == 0;
    memcpy(key, buf, ZC_KEY_BYTES);
    zc_wipe(buf, sizeof(buf));
    zc_wipe(again, sizeof(again));
    return same ? 0 : -EINVAL;
}

/* One line "TAG <base64>[ comment]" (no newline inside len): 0 or -EINVAL. */
static int parse_line(const char *tag, const char *s, size_t len, uint8_t key[ZC_KEY_BYTES],
                      bool comment_ok)
{
    size_t t = strlen(tag);
    if (len < t + 1 + B64_CHARS || memcmp(s, tag, t) != 0 || s[t] != ' ')
        return -EINVAL;
    const char *b64 = s + t + 1;
    size_t rest = len - t - 1 - B64_CHARS;
    if (rest && (!comment_ok || (b64[B64_CHARS] != ' ' && b64[B64_CHARS] != '\t')))
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0' || s[i] == '\r')
            return -EINVAL;
    return decode_key(b64, key);
}

int zc_pubkey_format(const struct zc_pubkey *pk, char *out, size_t outlen)
{
    if (outlen < sizeof(PUB_TAG) + 1 + B64_CHARS)
        return -ENOSPC;
    format_key(PUB_TAG, pk->key, out);
    return 0;
}

int zc_pubkey_parse(const char *text, size_t len, struct zc_pubkey *pk)
{
    if (len && text[len - 1] == '\n')
        len--;
    if (memchr(text, '\n', len))
        return -EINVAL;
    return parse_line(PUB_TAG, text, len, pk->key, true);
}

int zc_pubkey_parse_list(const char *text, size_t len, struct zc_pubkey **keys, size_t *n)
{
    size_t cap = 0, count = 0;
    struct zc_pubkey *v = NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t s = 0;
        while (s < l && (p[s] == ' ' || p[s] == '\t'))
            s++;
        if (s < l && p[s] != '#') {
            if (count == cap) {
                cap = cap ? 2 * cap : 8;
                struct zc_pubkey *nv = realloc(v, cap * sizeof(*v));
                if (!nv) {
                    free(v);
                    return -ENOMEM;
                }
                v = nv;
            }
            if (parse_line(PUB_TAG, p + s, l - s, v[count].key, true) < 0) {
                free(v);
                return -EINVAL;
            }
            count++;
        }
        p += l + (nl ? 1 : 0);
    }
    *keys = v;
    *n = count;
    return 0;
}

/* Who may have written a file we trust (sshd's StrictModes). */
enum file_trust {
    ANY_FILE,    /* a public key: it proves nothing by itself */
    AUTHORIZED,  /* decides who gets in: ours or root's, not group/other-writable */
    PRIVATE_KEY, /* ours, mode & 077 == 0 */
};

static bool trusted(const struct stat *st, enum file_trust trust)
{
    switch (trust) {
    case PRIVATE_KEY:
        return !(st->st_mode & 077) && st->st_uid == geteuid();
    case AUTHORIZED:
        return !(st->st_mode & 022) && (st->st_uid == geteuid() || st->st_uid == 0);
    default:
        return true;
    }
}

/* Reads a whole small file into a NUL-terminated malloc'd buffer; -EPERM
 * when it is not as trusted as it must be. */
static int read_small_file(const char *path, size_t max, enum file_trust trust, char **out,
                           size_t *outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (!S_ISREG(st.st_mode))
        r = -EINVAL;
    else if (!trusted(&st, trust))
        r = -EPERM;
    else if ((uint64_t)st.st_size > max)
        r = -EFBIG;
    char *buf = NULL;
    size_t len = 0;
    if (!r) {
        buf = malloc(max + 1);
        if (!buf)
            r = -ENOMEM;
    }
    while (!r) {
        ssize_t got = read(fd, buf + len, max + 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            r = -errno;
        else if (got == 0)
            break;
        else if ((len += (size_t)got) > max)
            r = -EFBIG;
    }
    close(fd);
    if (r) {
        if (buf)
            zc_wipe(buf, max + 1);
        free(buf);
        return r;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

int zc_keypair_load(const char *path, struct zc_keypair *kp)
{
    char *text;
    size_t len;
    int r = read_small_file(path, KEYFILE_MAX, PRIVATE_KEY, &text, &len);
    if (r)
        return r;
    size_t l = len;
    if (l && text[l - 1] == '\n')
        l--;
    if (memchr(text, '\n', l))
        r = -EINVAL;
    else
        r = parse_line(PRIV_TAG, text, l, kp->priv, false);
    if (!r)
        r = public_of(kp->priv, kp->pub);
    zc_wipe(text, len);
    free(text);
    if (r)
        zc_wipe(kp, sizeof(*kp));
    return r;
}

int zc_pubkey_load(const char *path, struct zc_pubkey *pk)
{
    char *text;
    size_t len;
    int r = read_small_file(path, KEYFILE_MAX, ANY_FILE, &text, &len);
    if (r)
        return r;
    r = zc_pubkey_parse(text, len, pk);
    free(text);
    return r;
}

int zc_pubkey_load_list(const char *path, struct zc_pubkey **keys, size_t *n)
{
    char *text;
    size_t len;
    int r = read_small_file(path, LISTFILE_MAX, AUTHORIZED, &text, &len);
    if (r)
        return r;
    r = zc_pubkey_parse_list(text, len, keys, n);
    free(text);
    return r;
}

/* Creates path exclusively with mode and writes line + '\n', synced. */
static int write_new_file(const char *path, mode_t mode, const char *line)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    int r = zc_write_all(fd, line, strlen(line));
    if (!r)
        r = zc_write_all(fd, "\n", 1);
    if (!r && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && !r)
        r = -errno;
    if (r)
        unlink(path);
    return r;
}

int zc_keypair_save(const char *base, const struct zc_keypair *kp)
{
    size_t blen = strlen(base);
    char *keypath = malloc(blen + 5), *pubpath = malloc(blen + 5);
    char line[sizeof(PRIV_TAG) + B64_CHARS + 2] = {0};
    int r = keypath && pubpath ? 0 : -ENOMEM;
    if (!r) {
        memcpy(keypath, base, blen);
        memcpy(keypath + blen, ".key", 5);
        memcpy(pubpath, base, blen);
        memcpy(pubpath + blen, ".pub", 5);
        format_key(PRIV_TAG, kp->priv, line);
        r = write_new_file(keypath, 0600, line);
        zc_wipe(line, sizeof(line));
    }
    if (!r) {
        format_key(PUB_TAG, kp->pub, line);
        r = write_new_file(pubpath, 0644, line);
        if (r)
            unlink(keypath);
    }
    free(keypath);
    free(pubpath);
    return r;
}
