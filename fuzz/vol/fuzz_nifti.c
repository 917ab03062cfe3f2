/* fuzz_nifti.c - any bytes as a .nii file: opening must fail cleanly or
 * give a volume the mesher and the ray caster can walk without reading
 * outside it. */
#include "zc/fb.h"
#include "zc/vol.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/zc-fuzz-XXXXXX.nii", tmpdir ? tmpdir : "/tmp");
    int fd = mkstemps(path, 4);
    if (fd < 0)
        return 0;
    ssize_t put = write(fd, data, size);
    close(fd);
    struct zc_vol *v;
    if (put == (ssize_t)size && zc_vol_open_nifti(&v, path) == 0) {
        unsigned d[3];
        zc_vol_dims(v, d);
        if ((uint64_t)d[0] * d[1] * d[2] <= 4096) {
            float lo, hi;
            zc_vol_range(v, &lo, &hi);
            struct zc_mesh m;
            if (zc_vol_mesh_extract(v, (lo + hi) / 2, &m) == 0)
                zc_mesh_free(&m);
            struct zc_tf tf;
            struct zc_fb *fb;
            if (zc_tf_preset(&tf, "mri", lo, hi) == 0 && zc_fb_create(&fb, 8, 8, 8) == 0) {
                struct zc_render_opts o = {.tf = &tf, .shade = true, .threads = 1};
                zc_camera_default(&o.camera);
                zc_vol_render(v, fb, &o, NULL);
                zc_fb_destroy(fb);
            }
        }
        zc_vol_close(v);
    }
    unlink(path);
    return 0;
}
