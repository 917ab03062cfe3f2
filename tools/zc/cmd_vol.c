/* cmd_vol.c - `zc render` (direct volume rendering or mesh) and `zc mesh`
 * (marching cubes to PLY) over a NIfTI or raw volume.
 *
 * Both time only the work itself (one frame, one extraction), after the
 * volume is opened; --json reports those times and the memory each way of
 * drawing needs beyond the volume and the picture.
 */
#include "cli.h"
#include "progress.h"
#include "cmd.h"
#include "zc/base.h"
#include "zc/fb.h"
#include "zc/vol.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 1000
#define MAX_SIDE   16384 /* a 1 GiB picture */

struct vol_args {
    const char *path;
    bool raw;
    unsigned dims[3];
    enum zc_vol_type type;
};

/* "X,Y,Z" with each in [1, 65536]. */
static int parse_dims(const char *s, unsigned dims[3])
{
    char *end;
    for (int a = 0; a < 3; a++) {
        unsigned long x = strtoul(s, &end, 10);
        if (end == s || x < 1 || x > 65536 || *end != (a < 2 ? ',' : '\0'))
            return -1;
        dims[a] = (unsigned)x;
        s = end + 1;
    }
    return 0;
}

/* Handles the options every volume command shares; 1 if opt was one. */
static int vol_option(const char *cmd, int opt, struct vol_args *va, int *rc)
{
    switch (opt) {
    case 'D':
        if (parse_dims(optarg, va->dims) != 0)
            *rc = zc_usage_error(cmd, "--dims wants X,Y,Z, got '%s'", optarg);
        va->raw = true;
        return 1;
    case 'T':
        if (zc_vol_type_parse(optarg, &va->type) != 0)
            *rc = zc_usage_error(cmd, "--type wants u8, i16, u16 or f32, got '%s'", optarg);
        va->raw = true;
        return 1;
    default:
        return 0;
    }
}

static int open_volume(const struct vol_args *va, struct zc_vol **v)
{
    int err =
        va->raw ? zc_vol_open_raw(v, va->path, va->dims, va->type) : zc_vol_open_nifti(v, va->path);
    if (err)
        cli_fail(err, "%s: cannot open volume: %s%s", va->path, zc_vol_strerror(err),
                 !va->raw && err == -EINVAL ? " (not a NIfTI-1 volume? raw needs --dims, --type)"
                                            : "");
    return err;
}

/* Opens -o early, before the work, so that a bad path fails first. */
static int open_output(struct zc_output *o, const char *path)
{
    int err = zc_output_open(o, path);
    if (err)
        cli_fail(err, "cannot write %s: %s", path, zc_strerror(err));
    return err;
}

/* Publishes the output when writing it went well (err 0), else drops it;
 * says what failed. */
static int finish_output(struct zc_output *o, const char *path, int err)
{
    if (err)
        zc_output_abort(o);
    else
        err = zc_output_commit(o);
    if (err)
        cli_fail(err, "cannot write %s: %s", path, zc_strerror(err));
    return err;
}

/* The human summary: stdout, unless stdout is the output ("-o -"). */
static FILE *summary_stream(const char *out)
{
    return strcmp(out, "-") == 0 ? stderr : stdout;
}

static void mesh_usage(FILE *f)
{
    fprintf(f, "usage: zc mesh VOLUME --iso V -o OUT.ply [--dims X,Y,Z --type u8|i16|u16|f32] "
               "[--json]\n\n"
               "Marching cubes at iso-value V into a binary little-endian PLY (positions in\n"
               "world units, gradient normals, one vertex per crossed edge).  VOLUME is a\n"
               "NIfTI-1 file (.nii mapped in place, .nii.gz inflated) or, with --dims and\n"
               "--type, a raw file (x fastest, native byte order).\n");
}

int cmd_mesh(int argc, char **argv)
{
    static const struct option opts[] = {{"iso", required_argument, NULL, 'i'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"dims", required_argument, NULL, 'D'},
                                         {"type", required_argument, NULL, 'T'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct vol_args va = {.type = ZC_VOL_U8};
    const char *out = NULL;
    double iso = 0;
    bool have_iso = false, json = false;
    int opt, rc = ZC_EXIT_OK;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:o:h", opts, NULL)) != -1) {
        if (vol_option("mesh", opt, &va, &rc)) {
            if (rc)
                return rc;
            continue;
        }
        switch (opt) {
        case 'i':
            if (zc_parse_double(optarg, &iso) != 0)
                return zc_usage_error("mesh", "--iso wants a number, got '%s'", optarg);
            have_iso = true;
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            mesh_usage(stdout);
            return ZC_EXIT_OK;
        default: /* '?' or ':' */
            return cli_bad_option("mesh", opt, argv);
        }
    }
    if (optind + 1 != argc)
        return zc_usage_error("mesh", "wants exactly one VOLUME");
    if (!have_iso || !out)
        return zc_usage_error("mesh", "--iso and -o are required");
    if (va.raw && va.dims[0] == 0)
        return zc_usage_error("mesh", "a raw volume needs --dims X,Y,Z");
    if (json && strcmp(out, "-") == 0)
        return zc_usage_error("mesh", "--json and -o - would both write to stdout");
    va.path = argv[optind];
    cli_json_failures(json);

    struct zc_vol *v;
    struct zc_output ply;
    if (open_volume(&va, &v))
        return ZC_EXIT_FAIL;
    if (open_output(&ply, out)) {
        zc_vol_close(v);
        return ZC_EXIT_FAIL;
    }
    struct zc_mesh mesh;
    uint64_t t0 = zc_now_ns();
    int err = zc_vol_mesh_extract(v, (float)iso, &mesh);
    double extract_s = zc_ns_to_s(zc_now_ns() - t0);
    if (err) {
        cli_fail(err, "marching cubes: %s", zc_strerror(err));
        zc_output_abort(&ply);
        zc_vol_close(v);
        return ZC_EXIT_FAIL;
    }
    err = finish_output(&ply, out, zc_mesh_ply_to_output(&mesh, &ply));
    if (!err && json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_u64(&j, "triangles", mesh.triangles);
        zc_json_u64(&j, "vertices", mesh.vertices);
        zc_json_num(&j, "extract_s", extract_s);
        zc_json_num(&j, "iso", iso);
        zc_json_u64(&j, "mesh_bytes", zc_mesh_bytes(&mesh));
        zc_json_u64(&j, "volume_bytes", zc_vol_bytes(v));
        zc_json_end(&j);
    } else if (!err) {
        fprintf(summary_stream(out), "%zu triangles, %zu vertices in %.3f s -> %s\n",
                mesh.triangles, mesh.vertices, extract_s, out);
    }
    zc_mesh_free(&mesh);
    zc_vol_close(v);
    return err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

static void render_usage(FILE *f)
{
    fprintf(f, "usage: zc render VOLUME -o OUT.png [options]\n\n"
               "Draws a volume: direct volume rendering (rays through the voxels where they\n"
               "lie) or marching cubes + a z-buffered rasterizer.\n\n"
               "  -o, --output OUT.png   the picture (with --compare: OUT-dvr.png, OUT-mesh.png)\n"
               "  --size WxH             image size (default 512x512)\n"
               "  --mode dvr|mesh        default dvr\n"
               "  --compare              both modes, side by side: time, memory, pictures\n"
               "  --tf mri|ct|FILE       transfer function (default mri); FILE: lines of\n"
               "                         'value r g b a', colour and opacity per mm in [0,1]\n"
               "  --iso V                mesh iso-value (default: 20%% into the value range)\n"
               "  --azimuth DEG --elevation DEG --zoom Z --perspective\n"
               "  --step S               DVR sample spacing in voxels (default 1)\n"
               "  --no-shade             DVR without gradient shading\n"
               "  --threads N            DVR threads over image tiles (default 2)\n"
               "  --frames N             DVR: N frames of a turning view; frame_s is the\n"
               "                         median after the first (default 1)\n"
               "  --dims X,Y,Z --type u8|i16|u16|f32   a raw volume\n"
               "  --json                 a JSON summary as the last line: render_s,\n"
               "                         extra_bytes, volume_bytes, ...\n");
}

struct render_args {
    const char *out, *tf_name;
    unsigned width, height;
    bool mesh, compare, json;
    unsigned frames;
    bool have_iso;
    double iso;
    struct zc_render_opts opts;
};

/* One way of drawing, measured. */
struct result {
    double render_s, extract_s;
    double frame_s; /* median of the frames after the first */
    size_t extra_bytes, intermediate_bytes;
    size_t triangles;
    uint64_t samples;
};

static int render_dvr(struct zc_vol *v, struct zc_fb *fb, const struct render_args *ra,
                      struct result *r)
{
    struct zc_render_stats st;
    struct zc_render_opts first = ra->opts;
    struct zc_progress shown;
    zc_progress_start(&shown, "rendering", 0, false);
    shown.unit = "tiles";
    first.progress = zc_progress_tiles;
    first.progress_arg = &shown;
    uint64_t t0 = zc_now_ns();
    int err = zc_vol_render(v, fb, &first, &st);
    r->render_s = zc_ns_to_s(zc_now_ns() - t0);
    zc_progress_finish(&shown);
    /* More frames of a slightly turning view: the steady frame time, the
     * volume's macrocells already known. */
    double times[MAX_FRAMES];
    struct zc_render_opts o = ra->opts;
    for (unsigned i = 1; i < ra->frames && !err; i++) {
        o.camera.azimuth = ra->opts.camera.azimuth + (i % 2 ? 1e-3f : -1e-3f);
        uint64_t t1 = zc_now_ns();
        err = zc_vol_render(v, fb, &o, NULL);
        times[i - 1] = zc_ns_to_s(zc_now_ns() - t1);
    }
    if (err) {
        cli_fail(err, "volume rendering: %s", zc_strerror(err));
        return err;
    }
    r->frame_s = ra->frames > 1 ? zc_median(times, ra->frames - 1) : r->render_s;
    r->extra_bytes = st.extra_bytes;
    r->intermediate_bytes = 0;
    r->samples = st.samples;
    return 0;
}

static int render_mesh(struct zc_vol *v, struct zc_fb *fb, const struct render_args *ra,
                       struct result *r)
{
    float lo, hi, sp[3], extent[3];
    unsigned dims[3];
    zc_vol_range(v, &lo, &hi);
    zc_vol_dims(v, dims);
    zc_vol_spacing(v, sp);
    for (int a = 0; a < 3; a++)
        extent[a] = (float)(dims[a] - 1) * sp[a];
    float iso = ra->have_iso ? (float)ra->iso : lo + 0.2f * (hi - lo);
    struct zc_mesh mesh;
    size_t scratch = 0;
    uint64_t t0 = zc_now_ns();
    int err = zc_vol_mesh_extract(v, iso, &mesh);
    uint64_t t1 = zc_now_ns();
    if (err) {
        cli_fail(err, "marching cubes: %s", zc_strerror(err));
        return err;
    }
    err = zc_mesh_render(&mesh, extent, fb, &ra->opts.camera, ZC_FB_RGBA(235, 200, 175, 255),
                         ra->opts.background, &scratch);
    r->render_s = zc_ns_to_s(zc_now_ns() - t0);
    r->extract_s = zc_ns_to_s(t1 - t0);
    r->intermediate_bytes = zc_mesh_bytes(&mesh);
    r->extra_bytes = r->intermediate_bytes + scratch;
    r->triangles = mesh.triangles;
    zc_mesh_free(&mesh);
    if (err)
        cli_fail(err, "mesh rasterizer: %s", zc_strerror(err));
    return err;
}

/* OUT.png -> OUT-SUFFIX.png (malloc'd). */
static char *suffixed(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    size_t stem = n > 4 && strcmp(out + n - 4, ".png") == 0 ? n - 4 : n;
    size_t len = n + strlen(suffix) + 6;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%.*s-%s.png", (int)stem, out, suffix);
    return s;
}

/* Draws one way into a new frame and publishes it as a PNG on out (opened
 * before), or drops out when anything failed. */
static int draw_and_write(struct zc_vol *v, const struct render_args *ra, bool mesh,
                          struct zc_output *out, const char *path, struct result *r)
{
    struct zc_fb *fb;
    int err = zc_fb_create(&fb, ra->width, ra->height, 0);
    if (err) {
        cli_fail(err, "framebuffer %ux%u: %s", ra->width, ra->height, zc_strerror(err));
        zc_output_abort(out);
        return err;
    }
    memset(r, 0, sizeof(*r));
    err = mesh ? render_mesh(v, fb, ra, r) : render_dvr(v, fb, ra, r);
    if (err)
        zc_output_abort(out);
    else
        err = finish_output(out, path, zc_fb_png_to_output(fb, out));
    zc_fb_destroy(fb);
    return err;
}

static void print_compare(const struct result *d, const struct result *m, size_t volume_bytes)
{
    char a[32], b[32], c[32];
    printf("%-6s %10s %14s %14s\n", "mode", "render_s", "extra memory", "intermediate");
    printf("%-6s %10.3f %14s %14s\n", "dvr", d->render_s,
           zc_fmt_bytes((double)d->extra_bytes, a, 32), zc_fmt_bytes(0, b, 32));
    printf("%-6s %10.3f %14s %14s   (%zu triangles, extraction %.3f s)\n", "mesh", m->render_s,
           zc_fmt_bytes((double)m->extra_bytes, a, 32),
           zc_fmt_bytes((double)m->intermediate_bytes, b, 32), m->triangles, m->extract_s);
    printf("volume %s\n", zc_fmt_bytes((double)volume_bytes, c, 32));
}

/* 0 to go on, -1 when --help was answered, else the usage exit code. */
static int parse_render(int argc, char **argv, struct render_args *ra, struct vol_args *va)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"size", required_argument, NULL, 's'},
                                         {"mode", required_argument, NULL, 'm'},
                                         {"compare", no_argument, NULL, 'C'},
                                         {"tf", required_argument, NULL, 't'},
                                         {"iso", required_argument, NULL, 'i'},
                                         {"azimuth", required_argument, NULL, 'a'},
                                         {"elevation", required_argument, NULL, 'e'},
                                         {"zoom", required_argument, NULL, 'z'},
                                         {"perspective", no_argument, NULL, 'p'},
                                         {"step", required_argument, NULL, 'S'},
                                         {"no-shade", no_argument, NULL, 'n'},
                                         {"threads", required_argument, NULL, 'N'},
                                         {"frames", required_argument, NULL, 'F'},
                                         {"dims", required_argument, NULL, 'D'},
                                         {"type", required_argument, NULL, 'T'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int opt, rc = 0;
    double x;
    uint64_t n;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:s:m:h", opts, NULL)) != -1) {
        if (vol_option("render", opt, va, &rc)) {
            if (rc)
                return rc;
            continue;
        }
        switch (opt) {
        case 'o':
            ra->out = optarg;
            break;
        case 's':
            if (zc_parse_wxh(optarg, &ra->width, &ra->height) != 0 || ra->width > MAX_SIDE ||
                ra->height > MAX_SIDE)
                return zc_usage_error("render", "--size wants WxH up to %ux%u, got '%s'", MAX_SIDE,
                                      MAX_SIDE, optarg);
            break;
        case 'm':
            if (strcmp(optarg, "dvr") != 0 && strcmp(optarg, "mesh") != 0)
                return zc_usage_error("render", "--mode wants dvr or mesh, got '%s'", optarg);
            ra->mesh = strcmp(optarg, "mesh") == 0;
            break;
        case 'C':
            ra->compare = true;
            break;
        case 't':
            ra->tf_name = optarg;
            break;
        case 'i':
            if (zc_parse_double(optarg, &ra->iso) != 0)
                return zc_usage_error("render", "--iso wants a number, got '%s'", optarg);
            ra->have_iso = true;
            break;
        case 'a':
        case 'e':
        case 'z':
        case 'S':
            if (zc_parse_double(optarg, &x) != 0 || fabs(x) > 1e6 ||
                ((opt == 'z' || opt == 'S') && !(x > 0)))
                return zc_usage_error("render", "bad number '%s'", optarg);
            if (opt == 'a')
                ra->opts.camera.azimuth = (float)x;
            else if (opt == 'e')
                ra->opts.camera.elevation = (float)x;
            else if (opt == 'z')
                ra->opts.camera.zoom = (float)x;
            else if (x < 0.05)
                return zc_usage_error("render", "--step below 0.05 voxel");
            else
                ra->opts.step = (float)x;
            break;
        case 'p':
            ra->opts.camera.perspective = true;
            break;
        case 'n':
            ra->opts.shade = false;
            break;
        case 'N':
            if (zc_parse_u64(optarg, 1, 64, &n) != 0)
                return zc_usage_error("render", "--threads wants 1..64, got '%s'", optarg);
            ra->opts.threads = (unsigned)n;
            break;
        case 'F':
            if (zc_parse_u64(optarg, 1, MAX_FRAMES, &n) != 0)
                return zc_usage_error("render", "--frames wants 1..%d, got '%s'", MAX_FRAMES,
                                      optarg);
            ra->frames = (unsigned)n;
            break;
        case 'j':
            ra->json = true;
            break;
        case 'h':
            render_usage(stdout);
            return -1;
        default: /* '?' or ':' */
            return cli_bad_option("render", opt, argv);
        }
    }
    if (optind + 1 != argc)
        return zc_usage_error("render", "wants exactly one VOLUME");
    if (!ra->out)
        return zc_usage_error("render", "-o OUT.png is required");
    if (strcmp(ra->out, "-") == 0 && (ra->json || ra->compare))
        return zc_usage_error("render", "-o - is stdout: not with %s",
                              ra->json ? "--json (stdout too)" : "--compare (two pictures)");
    if (va->raw && va->dims[0] == 0)
        return zc_usage_error("render", "a raw volume needs --dims X,Y,Z");
    va->path = argv[optind];
    return 0;
}

/* The named preset, else a transfer function file. */
static int load_tf(struct zc_vol *v, const char *name, struct zc_tf *tf)
{
    float lo, hi;
    zc_vol_range(v, &lo, &hi);
    if (zc_tf_preset(tf, name, lo, hi) == 0)
        return 0;
    unsigned line;
    int err = zc_tf_load(tf, name, &line);
    if (err == -EINVAL && line)
        cli_fail(err, "%s:%u: not 'value r g b a' (increasing values, colour in [0,1])", name,
                 line);
    else if (err)
        cli_fail(err, "transfer function '%s': not mri, ct or a readable file (%s)", name,
                 zc_strerror(err));
    return err;
}

int cmd_render(int argc, char **argv)
{
    struct render_args ra = {.tf_name = "mri", .width = 512, .height = 512, .frames = 1};
    zc_camera_default(&ra.opts.camera);
    ra.opts.shade = true;
    ra.opts.threads = 2;
    ra.opts.background = ZC_FB_RGBA(0, 0, 0, 255);
    struct vol_args va = {.type = ZC_VOL_U8};
    struct zc_tf tf;
    int rc = parse_render(argc, argv, &ra, &va);
    if (rc)
        return rc < 0 ? ZC_EXIT_OK : rc;

    cli_json_failures(ra.json);
    struct zc_vol *v;
    if (open_volume(&va, &v))
        return ZC_EXIT_FAIL;
    int err = load_tf(v, ra.tf_name, &tf);
    ra.opts.tf = &tf;
    struct result dvr, mesh;
    /* Every picture's path is opened before the drawing starts. */
    char *paths[2] = {ra.compare ? suffixed(ra.out, "dvr") : strdup(ra.out),
                      ra.compare ? suffixed(ra.out, "mesh") : NULL};
    struct zc_output pics[2] = {{.fd = -1}, {.fd = -1}};
    if (!err && (!paths[0] || (ra.compare && !paths[1])))
        err = cli_fail(-ENOMEM, "%s", zc_strerror(-ENOMEM));
    for (int i = 0; i < 2 && paths[i] && !err; i++)
        err = open_output(&pics[i], paths[i]);
    if (!err && ra.compare) {
        err = draw_and_write(v, &ra, false, &pics[0], paths[0], &dvr);
        if (!err)
            err = draw_and_write(v, &ra, true, &pics[1], paths[1], &mesh);
        if (!err && !ra.json)
            print_compare(&dvr, &mesh, zc_vol_bytes(v));
    } else if (!err) {
        err = draw_and_write(v, &ra, ra.mesh, &pics[0], paths[0], ra.mesh ? &mesh : &dvr);
    }
    for (int i = 0; i < 2; i++) {
        zc_output_abort(&pics[i]); /* what was not drawn */
        free(paths[i]);
    }
    if (!err && ra.json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        const struct result *r = ra.mesh && !ra.compare ? &mesh : &dvr;
        zc_json_str(&j, "mode", ra.compare ? "compare" : ra.mesh ? "mesh" : "dvr");
        zc_json_num(&j, "render_s", r->render_s);
        zc_json_u64(&j, "extra_bytes", r->extra_bytes);
        zc_json_u64(&j, "volume_bytes", zc_vol_bytes(v));
        zc_json_bool(&j, "in_place", zc_vol_in_place(v));
        zc_json_u64(&j, "width", ra.width);
        zc_json_u64(&j, "height", ra.height);
        if (ra.mesh || ra.compare) {
            zc_json_num(&j, "extract_s", mesh.extract_s);
            zc_json_u64(&j, "triangles", mesh.triangles);
            zc_json_u64(&j, "mesh_bytes", mesh.intermediate_bytes);
        }
        if (ra.compare) {
            zc_json_num(&j, "mesh_render_s", mesh.render_s);
            zc_json_u64(&j, "mesh_extra_bytes", mesh.extra_bytes);
        }
        if (!ra.mesh || ra.compare) {
            zc_json_u64(&j, "samples", dvr.samples);
            zc_json_num(&j, "frame_s", dvr.frame_s);
        }
        zc_json_end(&j);
    } else if (!err && !ra.compare) {
        fprintf(summary_stream(ra.out), "%s %ux%u in %.3f s -> %s\n", ra.mesh ? "mesh" : "dvr",
                ra.width, ra.height, (ra.mesh ? &mesh : &dvr)->render_s, ra.out);
    }
    zc_vol_close(v);
    return err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}
