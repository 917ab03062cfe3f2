/* The streaming engine behind `zc bench ring` and `zc demo`: each transport
 * delivers exactly what was sent (the consumer's checksum agrees), the
 * batch fit recovers a known a + b/B, and bad requests are refused. */
#include "ring_stream.h"
#include "zc_test.h"

#include <errno.h>
#include <math.h>

static void streams_verify(void)
{
    const enum stream_transport t[] = {STREAM_RING, STREAM_PIPE, STREAM_UNIX};
    const size_t sizes[] = {64, 4096, 65536};
    for (size_t i = 0; i < 3; i++) {
        for (size_t k = 0; k < 3; k++) {
            struct stream_cfg c = {
                .transport = t[i], .msg_size = sizes[k], .batch = 16, .total_bytes = 4u << 20};
            struct stream_result r;
            CHECK_OK(stream_run(&c, &r));
            CHECK_EQ(r.msgs, (4u << 20) / sizes[k]);
            CHECK_EQ(r.bytes, 4u << 20);
            CHECK(r.ns > 0);
        }
    }
    /* A timed run, and a batch that does not divide the total. */
    struct stream_cfg c = {
        .transport = STREAM_RING, .msg_size = 64, .batch = 7, .duration_ns = 20000000};
    struct stream_result r;
    CHECK_OK(stream_run(&c, &r));
    CHECK(r.msgs > 0);
    c = (struct stream_cfg){
        .transport = STREAM_RING, .msg_size = 64, .batch = 7, .total_bytes = 6400};
    CHECK_OK(stream_run(&c, &r));
    CHECK_EQ(r.msgs, 100);
    /* The ring's wake-ups are counted: at least the first kick, at most
     * one per submit and one per completion. */
    CHECK(r.wakeups >= 1 && r.wakeups <= 2 * (100 / 7 + 2));
}

static void refuses_bad_config(void)
{
    struct stream_result r;
    struct stream_cfg c = {
        .transport = STREAM_RING, .msg_size = 12, .batch = 1, .total_bytes = 4096};
    CHECK_EQ(stream_run(&c, &r), -EINVAL); /* not a multiple of 8 */
    c.msg_size = 64;
    c.batch = 257;
    CHECK_EQ(stream_run(&c, &r), -EINVAL);
    c.batch = 1;
    c.total_bytes = 0; /* neither a length nor a duration */
    CHECK_EQ(stream_run(&c, &r), -EINVAL);
    struct stream_figures f;
    CHECK_EQ(stream_measure(&c, 0, &f), -EINVAL);
    double v;
    CHECK_EQ(stream_rtt(STREAM_UNIX, false, 10, &v), -EINVAL);
    CHECK_EQ(stream_rtt(STREAM_RING, false, 0, &v), -EINVAL);
}

static void round_trips(void)
{
    double spin, block, pipe;
    CHECK_OK(stream_rtt(STREAM_RING, true, 200, &spin));
    CHECK_OK(stream_rtt(STREAM_RING, false, 50, &block));
    CHECK_OK(stream_rtt(STREAM_PIPE, false, 50, &pipe));
    CHECK(spin > 0 && block > 0 && pipe > 0);
}

static void fit(void)
{
    const unsigned b[] = {1, 2, 4, 8, 16};
    double ns[5], a, bb;
    for (int i = 0; i < 5; i++)
        ns[i] = 20.0 + 80.0 / b[i];
    CHECK_OK(stream_fit(b, ns, 5, &a, &bb));
    CHECK(fabs(a - 20.0) < 1e-9 && fabs(bb - 80.0) < 1e-9);
    const unsigned same[] = {4, 4};
    CHECK_EQ(stream_fit(same, ns, 2, &a, &bb), -EINVAL);
    CHECK_EQ(stream_fit(b, ns, 1, &a, &bb), -EINVAL);
    struct bench_plot plot; /* a folder that is not there fails before any work */
    CHECK_EQ(bench_plot_open(&plot, "no-such-folder/batch.png"), -ENOENT);
}

int main(void)
{
    RUN(streams_verify);
    RUN(refuses_bad_config);
    RUN(round_trips);
    RUN(fit);
    return 0;
}
