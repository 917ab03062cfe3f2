/* cmd_vol.c - `zc render` (direct volume rendering or mesh) and `zc mesh`
 * (marching cubes to PLY) over a NIfTI or raw volume.
 *
 * Both time only the work itself (one frame, one extraction), after the
 * volume is opened; --json reports those times and the memory each way of
 * drawing needs beyond the volume and the picture.
 */
#include "cmd.h"
#include "zc/base.h"
#include "zc/fb.h"
#include "zc/vol.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        zc_error("%s: cannot open volume: %s%s", va->path, zc_strerror(err),
                 !va->raw && err == -EINVAL ? " (not a NIfTI-1 volume? raw needs --dims, --type)"
                                            : "");
    return err;
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
    while ((opt = getopt_long(argc, argv, "i:o:h", opts, NULL)) != -1) {
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
        default:
            return zc_usage_error("mesh", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return zc_usage_error("mesh", "wants exactly one VOLUME");
    if (!have_iso || !out)
        return zc_usage_error("mesh", "--iso and -o are required");
    if (va.raw && va.dims[0] == 0)
        return zc_usage_error("mesh", "a raw volume needs --dims X,Y,Z");
    va.path = argv[optind];

    struct zc_vol *v;
    if (open_volume(&va, &v))
        return ZC_EXIT_FAIL;
    struct zc_mesh mesh;
    uint64_t t0 = zc_now_ns();
    int err = zc_vol_mesh_extract(v, (float)iso, &mesh);
    double extract_s = zc_ns_to_s(zc_now_ns() - t0);
    if (err) {
        zc_error("marching cubes: %s", zc_strerror(err));
        zc_vol_close(v);
        return ZC_EXIT_FAIL;
    }
    err = zc_mesh_write_ply(&mesh, out);
    if (err) {
        zc_error("%s: %s", out, zc_strerror(err));
    } else if (json) {
        struct zc_json j;
        zc_json_begin(&j, stdout);
        zc_json_u64(&j, "triangles", mesh.triangles);
        zc_json_u64(&j, "vertices", mesh.vertices);
        zc_json_num(&j, "extract_s", extract_s);
        zc_json_num(&j, "iso", iso);
        zc_json_u64(&j, "mesh_bytes", zc_mesh_bytes(&mesh));
        zc_json_u64(&j, "volume_bytes", zc_vol_bytes(v));
        zc_json_end(&j);
    } else {
        printf("%zu triangles, %zu vertices in %.3f s -> %s\n", mesh.triangles, mesh.vertices,
               extract_s, out);
    }
    zc_mesh_free(&mesh);
    zc_vol_close(v);
    return err ? ZC_EXIT_FAIL : ZC_EXIT_OK;
}

int cmd_render(int argc, char **argv)
{
    zc_error("render is not built yet");
    return ZC_EXIT_FAIL;
}
