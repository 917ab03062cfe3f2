/* progress.h - the `zc` command's one progress line: bytes, rate and ETA
 * on a TTY.  The library only reports (callbacks such as place's
 * progress); drawing is the command's.
 *
 * A line on stderr redrawn at most ten times a second while stderr is a
 * terminal; silent otherwise (pipes, logs, tests), so callers never need
 * to ask.  zc_progress_add may be called from several threads at once
 * (the streams of one transfer); start, grow and finish by one owner.
 */
#ifndef ZC_TOOLS_PROGRESS_H
#define ZC_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct zc_progress {
    const char *label;
    const char *unit; /* NULL: bytes, with rate and ETA; else a count of these */
    uint64_t total;   /* bytes expected; 0 when unknown */
    uint64_t done;
    uint64_t start_ns, last_draw_ns;
    bool enabled;
    bool drawn;
};

/* Starts a progress line labelled label (kept by pointer) for total bytes
 * (0: unknown); enabled only when stderr is a TTY and quiet is false. */
void zc_progress_start(struct zc_progress *p, const char *label, uint64_t total, bool quiet);
/* Raises the expected total by bytes (work discovered on the way). */
void zc_progress_grow(struct zc_progress *p, uint64_t bytes);
/* Counts bytes more as done; redraws when the last draw is 100 ms old
 * (one thread draws, the others only count). */
void zc_progress_add(struct zc_progress *p, uint64_t bytes);
/* Draws the final state and ends the line (nothing when never drawn). */
void zc_progress_finish(struct zc_progress *p);

/* The shape of place's progress callback (zc_place_client_config): arg is
 * a struct zc_progress; grows the total by more_total, then adds done. */
void zc_progress_report(void *arg, uint64_t done, uint64_t more_total);

/* The shape of vol's render progress (zc_render_opts): arg is a struct
 * zc_progress whose unit the caller set to "tiles"; one tile more done of total. */
void zc_progress_tiles(void *arg, unsigned done, unsigned total);

#endif /* ZC_TOOLS_PROGRESS_H */
