/* evil_broker.h - the sealed channel's adversary, for the tests only.
 *
 * A broker that gives each endpoint rings of its own and relays every
 * message between them, one thread per direction, so that it can change,
 * replay, reorder, drop, cut or race on exactly the message it picks.
 * Relaying looks to each endpoint exactly like the shared ring it expects
 * (docs/PROTOCOL.md, "Evil broker modes").  libzc has only the honest
 * broker; test_seal runs every mode in-process, test_seal_cli through the
 * zc-evil-broker program.
 */
#ifndef ZC_TESTS_EVIL_BROKER_H
#define ZC_TESTS_EVIL_BROKER_H

#include "zc/seal.h"

/* How the broker misbehaves.  Each mode strikes the third message of each
 * direction (on a one-way stream: the handshake message and one data
 * message pass untouched) unless said otherwise. */
enum evil_mode {
    EVIL_RELAY,    /* relays through its own rings but changes nothing */
    EVIL_PAYLOAD,  /* flips a bit of the ciphertext */
    EVIL_HEADER,   /* flips a bit of the header (counter / length) */
    EVIL_TAG,      /* flips a bit of the tag */
    EVIL_REPLAY,   /* delivers the previous message again */
    EVIL_REORDER,  /* swaps the message with the next one */
    EVIL_TRUNCATE, /* shortens the descriptor length */
    EVIL_INFLATE,  /* lengthens the descriptor length */
    EVIL_REWRITE,  /* points the descriptor at the previous buffer */
    EVIL_DROP,     /* never delivers the message */
    EVIL_CUT,      /* delivers nothing more, close included, then hangs up */
    EVIL_RACE,     /* keeps flipping bytes of delivered buffers while they are read */
};

/* The mode's command-line name ("payload", "race", ...). */
const char *evil_name(enum evil_mode mode);
/* Parses a mode name: 0 or -EINVAL. */
int evil_parse(const char *name, enum evil_mode *mode);

struct evil_broker;

/* As zc_seal_broker_create, zc_seal_broker_serve (which here relays and
 * tampers until a direction ends), zc_seal_broker_region (in[0], in[1],
 * out[0], out[1]) and zc_seal_broker_destroy. */
int evil_broker_create(struct evil_broker **out, const struct zc_seal_config *cfg,
                       enum evil_mode mode);
int evil_broker_serve(struct evil_broker *b, int sock0, int sock1);
int evil_broker_region(const struct evil_broker *b, unsigned i, const void **base, size_t *size);
void evil_broker_destroy(struct evil_broker *b);

#endif
