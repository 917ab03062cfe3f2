/* test_cli.c - `zc render` and `zc mesh` as a user meets them: --help,
 * usage errors (exit 2), failed jobs (exit 1, one line on stderr, no output
 * file), and the --json summaries on a small generated NIfTI volume and a
 * raw one.  argv[1] is the zc binary.
 */
#include "gen.h"
#include "zc_test.h"

#include <nifti1_io.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static const char *zc;
static char dir[4096];
static char out[65536];

/* Runs "zc ARGS" with stdout in out (stderr to dir/err); returns the exit code. */
static int run(const char *args)
{
    char cmd[20480];
    snprintf(cmd, sizeof(cmd), "%s %s 2>%s/err", zc, args, dir);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int err_lines(void)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/err", dir);
    FILE *f = fopen(path, "r");
    CHECK(f);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static int exists(const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The last line of out, as a JSON object. */
static const char *last_line(void)
{
    size_t n = strlen(out);
    CHECK(n > 2 && out[n - 1] == '\n');
    out[n - 1] = '\0';
    const char *nl = strrchr(out, '\n');
    const char *line = nl ? nl + 1 : out;
    CHECK(line[0] == '{' && line[strlen(line) - 1] == '}');
    return line;
}

static void write_ball(void)
{
    const int dims[8] = {3, 32, 32, 32, 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, DT_UINT8, 1);
    CHECK(nim);
    uint8_t *ball = gen_ball_u8(32, 15.5f, 10);
    memcpy(nim->data, ball, 32 * 32 * 32);
    char path[4200];
    snprintf(path, sizeof(path), "%s/ball.nii", dir);
    CHECK(nifti_set_filenames(nim, path, 0, 1) == 0);
    nifti_image_write(nim);
    nifti_image_free(nim);
    snprintf(path, sizeof(path), "%s/ball.raw", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(ball, 32 * 32 * 32, 1, f) == 1);
    fclose(f);
    free(ball);
}

static void test_usage(void)
{
    char a[16384];
    CHECK_EQ(run("mesh --help"), 0);
    CHECK(strstr(out, "usage: zc mesh"));
    CHECK_EQ(run("render --help"), 0);
    CHECK(strstr(out, "usage: zc render"));
    CHECK_EQ(run("mesh"), 2);
    snprintf(a, sizeof(a), "mesh %s/ball.nii -o %s/m.ply", dir, dir);
    CHECK_EQ(run(a), 2); /* no --iso */
    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/r.png --size 0x5", dir, dir);
    CHECK_EQ(run(a), 2);
    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/r.png --mode voxels", dir, dir);
    CHECK_EQ(run(a), 2);
    snprintf(a, sizeof(a), "render %s/ball.raw -o %s/r.png --dims 32,32", dir, dir);
    CHECK_EQ(run(a), 2);
    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/r.png --bogus", dir, dir);
    CHECK_EQ(run(a), 2);
    CHECK(!exists("r.png") && !exists("m.ply"));
}

static void test_failures(void)
{
    char a[16384];
    snprintf(a, sizeof(a), "mesh %s/none.nii --iso 1 -o %s/m.ply", dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK_EQ(err_lines(), 1);
    snprintf(a, sizeof(a), "%s/junk.nii", dir);
    FILE *f = fopen(a, "wb");
    CHECK(f);
    for (int i = 0; i < 600; i++)
        fputc(i * 131 + 7, f);
    fclose(f);
    snprintf(a, sizeof(a), "render %s/junk.nii -o %s/r.png", dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK_EQ(err_lines(), 1); /* ours, and nothing from libnifti */
    snprintf(a, sizeof(a), "render %s/ball.raw -o %s/r.png --dims 64,64,64 --type u8", dir, dir);
    CHECK_EQ(run(a), 1); /* the file is smaller than the dims */
    CHECK_EQ(err_lines(), 1);
    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/r.png --tf %s/none.tf", dir, dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK_EQ(err_lines(), 1);
    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/no/such/dir/r.png", dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK(!exists("r.png") && !exists("m.ply"));
}

/* True when stderr of the last run holds s. */
static bool err_has(const char *s)
{
    char path[4200], text[4096];
    snprintf(path, sizeof(path), "%s/err", dir);
    FILE *f = fopen(path, "r");
    CHECK(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, s) != NULL;
}

/* ball.nii gzipped as name, cut in half when cut, the byte at flip (from
 * the end when negative; 0: none) inverted. */
static void write_damaged_gz(const char *name, bool cut, long flip)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/ball.nii", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    static unsigned char nii[65536];
    size_t n = fread(nii, 1, sizeof(nii), f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    gzFile gz = gzopen(path, "wb");
    CHECK(gz && gzwrite(gz, nii, (unsigned)n) == (int)n && gzclose(gz) == Z_OK);
    f = fopen(path, "r+b");
    CHECK(f);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long len = ftell(f);
    if (flip) {
        CHECK(fseek(f, flip < 0 ? len + flip : flip, SEEK_SET) == 0);
        int c = fgetc(f);
        CHECK(fseek(f, flip < 0 ? len + flip : flip, SEEK_SET) == 0);
        fputc(c ^ 0xff, f);
    }
    CHECK(fclose(f) == 0);
    if (cut)
        CHECK(truncate(path, len / 2) == 0);
}

/* A cut or damaged .nii.gz fails with its cause named, and --dims never
 * reads compressed bytes as voxels. */
static void test_damaged(void)
{
    char a[16384];
    write_damaged_gz("cut.nii.gz", true, 0);
    snprintf(a, sizeof(a), "render %s/cut.nii.gz -o %s/r.png", dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK(err_lines() == 1 && err_has("truncated"));
    write_damaged_gz("crc.nii.gz", false, -8);
    snprintf(a, sizeof(a), "mesh %s/crc.nii.gz --iso 100 -o %s/m.ply", dir, dir);
    CHECK_EQ(run(a), 1);
    CHECK(err_lines() == 1 && err_has("corrupt") && err_has("CRC"));
    write_damaged_gz("whole.nii.gz", false, 0);
    snprintf(a, sizeof(a), "render %s/whole.nii.gz -o %s/w.png --size 32x32", dir, dir);
    CHECK_EQ(run(a), 0);
    CHECK(exists("w.png"));
    snprintf(a, sizeof(a), "render %s/whole.nii.gz --dims 32,32,32 --type u8 -o %s/d.png", dir,
             dir);
    CHECK_EQ(run(a), 1);
    CHECK(err_has("compressed") && !exists("d.png"));
}

/* Field name of the JSON line j, as tests/json_field.py prints it; the test
 * fails when j has no such field.  The buffer is reused by the next call. */
static const char *field(const char *j, const char *name)
{
    static char v[256];
    CHECK_OK(zc_test_json_field(j, name, v, sizeof(v)));
    return v;
}

static void test_json(void)
{
    char a[16384];
    snprintf(a, sizeof(a), "mesh %s/ball.nii --iso 100 -o %s/m.ply --json", dir, dir);
    CHECK_EQ(run(a), 0);
    const char *j = last_line();
    field(j, "vertices");
    field(j, "extract_s");
    CHECK(strcmp(field(j, "triangles"), "0") != 0);
    CHECK(exists("m.ply"));

    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/r.png --size 64x48 --json", dir, dir);
    CHECK_EQ(run(a), 0);
    j = last_line();
    field(j, "render_s");
    field(j, "extra_bytes");
    CHECK(strcmp(field(j, "volume_bytes"), "32768") == 0);
    CHECK(strcmp(field(j, "in_place"), "true") == 0);
    CHECK(exists("r.png"));

    snprintf(a, sizeof(a),
             "render %s/ball.raw --dims 32,32,32 --type u8 -o %s/m.png --mode mesh --iso 100 "
             "--perspective --json",
             dir, dir);
    CHECK_EQ(run(a), 0);
    j = last_line();
    CHECK(strcmp(field(j, "mode"), "mesh") == 0);
    field(j, "triangles");

    snprintf(a, sizeof(a), "render %s/ball.nii -o %s/c.png --compare --iso 100", dir, dir);
    CHECK_EQ(run(a), 0);
    CHECK(strstr(out, "dvr") && strstr(out, "mesh"));
    CHECK(exists("c-dvr.png") && exists("c-mesh.png"));
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    zc = argv[1];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/zc-cli-XXXXXX", tmpdir ? tmpdir : "/tmp");
    CHECK(mkdtemp(dir));
    write_ball();
    RUN(test_usage);
    RUN(test_failures);
    RUN(test_json);
    RUN(test_damaged);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return 0;
}
