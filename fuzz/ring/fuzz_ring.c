/* fuzz_ring.c - both ends of a ring driven by an operation stream in which
 * the "peer" may also write any bytes anywhere in ring memory.  The first
 * byte picks the queue size, EVENT_IDX (0x80) and the format (0x40: the
 * packed ring, else the split one).  Whatever it
 * writes, every chain the device takes must lie inside the buffer region,
 * every used entry the driver takes must match what it posted, and every
 * failure must be -EPROTO with the ring marked broken (or -EINVAL/-ENOSPC
 * for the honest end's own bad requests). */
#include "zc/base.h"
#include "zc/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BUF_SIZE 8192

struct input {
    const uint8_t *p;
    size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
        v |= (uint64_t)*in->p++ << (8 * i);
    return v;
}

static void check_chain(struct zc_ring *dev, const struct zc_ring_chain *c)
{
    uint64_t r = 0, w = 0;
    if (c->head >= zc_ring_num(dev) || c->nseg == 0 || c->nseg > ZC_RING_MAX_SEGS)
        abort();
    for (unsigned i = 0; i < c->nseg; i++) {
        const struct zc_ring_seg *s = &c->seg[i];
        if (s->off > BUF_SIZE || s->len > BUF_SIZE - s->off || !zc_ring_ptr(dev, s))
            abort();
        if (i && c->seg[i - 1].writable && !s->writable)
            abort();
        *(s->writable ? &w : &r) += s->len;
    }
    if (r != c->readable_len || w != c->writable_len)
        abort();
}

static void expect(int ret, bool ok_enospc, const struct zc_ring *r)
{
    if (ret >= 0 || (ret == -ENOSPC && ok_enospc) || ret == -EINVAL)
        return;
    if (ret != -EPROTO || !zc_ring_broken(r))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    uint64_t mode = take(&in, 1);
    struct zc_ring_params p = {.num = 1u << (mode % 7),
                               .buf_size = BUF_SIZE,
                               .features = ((mode & 0x80) ? ZC_RING_F_EVENT_IDX : 0) |
                                           ((mode & 0x40) ? ZC_RING_F_RING_PACKED : 0)};
    struct zc_ring *drv, *dev;
    if (zc_ring_create_pair(&drv, &dev, &p))
        abort();
    zc_ring_set_spin(drv, 0);
    zc_ring_set_spin(dev, 0);
    uint8_t *mem = zc_ring_mem(drv);
    size_t mem_size = zc_ring_layout_size(p.num, p.features);
    struct zc_ring_chain c[8];
    struct zc_ring_used u[8];
    uint32_t posted_writable[64] = {0};

    while (in.left) {
        switch (take(&in, 1) % 6) {
        case 0: { /* the peer scribbles */
            size_t off = (size_t)take(&in, 2) % mem_size;
            size_t len = (size_t)take(&in, 1) % 17;
            len = ZC_MIN(len, ZC_MIN(in.left, mem_size - off));
            memcpy(mem + off, in.p, len);
            in.p += len;
            in.left -= len;
            break;
        }
        case 1: { /* the driver posts a chain of up to 3 segments */
            struct zc_ring_seg s[3];
            unsigned n = (unsigned)take(&in, 1) % 3 + 1;
            uint32_t w = 0;
            for (unsigned i = 0; i < n; i++) {
                s[i] = (struct zc_ring_seg){.off = take(&in, 2) % (BUF_SIZE + 2),
                                            .len = (uint32_t)take(&in, 2) % 512,
                                            .writable = i > 0 && (take(&in, 1) & 1)};
                if (i && s[i - 1].writable)
                    s[i].writable = true;
                w += s[i].writable ? s[i].len : 0;
            }
            uint32_t tag = (uint32_t)take(&in, 1) % 64;
            int ret = zc_ring_add(drv, s, n, (void *)(uintptr_t)(tag + 1));
            if (ret == 0)
                posted_writable[tag] = ZC_MAX(posted_writable[tag], w);
            expect(ret, true, drv);
            break;
        }
        case 2:
            expect(zc_ring_submit(drv), false, drv);
            break;
        case 3: { /* the device takes chains and gives them back */
            int n = zc_ring_pop_batch(dev, c, (unsigned)take(&in, 1) % 8 + 1);
            expect(n, false, dev);
            for (int i = 0; i < n; i++) {
                check_chain(dev, &c[i]);
                uint32_t len = (uint32_t)take(&in, 2) % (c[i].writable_len + 1);
                if (zc_ring_push(dev, c[i].head, len))
                    abort();
            }
            break;
        }
        case 4:
            expect(zc_ring_complete(dev), false, dev);
            break;
        default: {
            int n = zc_ring_reap(drv, u, 8);
            expect(n, false, drv);
            for (int i = 0; i < n; i++) {
                uintptr_t tag = (uintptr_t)u[i].token;
                if (tag == 0 || tag > 64 || u[i].len > posted_writable[tag - 1])
                    abort();
            }
            int w = zc_ring_wait(dev, 0);
            expect(w == -ETIMEDOUT ? 0 : w, false, dev);
            break;
        }
        }
    }
    zc_ring_destroy(dev);
    zc_ring_destroy(drv);
    return 0;
}
