/* hostile.h - a hostile `zc serve` for the client's tests and its fuzz
 * target.  It completes a real handshake (the client cannot tell it from
 * an honest server), reads the client's GET, and answers with whatever
 * frames its play function sends, sealed or MAC'd under the session's
 * keys: the attacks a server that holds its key can make on `zc get`. */
#ifndef ZC_TESTS_PLACE_HOSTILE_H
#define ZC_TESTS_PLACE_HOSTILE_H

#include "conn.h"

#include <stdint.h>

struct hostile;

/* Answers the GET of path get on c (results of sends may be ignored: the
 * client hangs up as soon as it refuses something). */
typedef void (*hostile_play_fn)(struct place_conn *c, const char *get, void *arg);

/* Listens on 127.0.0.1:<any> as the holder of server, letting client in;
 * 0 with *out set, or -errno. */
int hostile_open(struct hostile **out, const struct zc_keypair *server,
                 const struct zc_pubkey *client);
uint16_t hostile_port(const struct hostile *h);
/* Serves the next connection in a thread: handshake, GET, play, then
 * reads until the client closes; 0 or -errno (the thread did not start). */
int hostile_serve(struct hostile *h, hostile_play_fn play, void *arg);
/* Waits for that thread; whether it got as far as playing. */
bool hostile_wait(struct hostile *h);
void hostile_close(struct hostile *h);

/* Sends OPEN o (its path unchecked: any bytes a hostile server likes). */
int hostile_send_open(struct place_conn *c, uint8_t flags, uint32_t id, const struct place_open *o);
/* OPEN, one DATA frame (clear when flags has PLACE_FLAG_CLEAR_DATA) and
 * CLOSE of a file path holding len bytes of data. */
int hostile_send_file(struct place_conn *c, uint8_t flags, uint32_t id, const char *path,
                      const void *data, uint32_t len, uint32_t mode);
/* OPEN of the directory path with mode. */
int hostile_send_dir(struct place_conn *c, const char *path, uint32_t mode);

#endif
