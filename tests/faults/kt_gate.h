/**
 * @file kt_gate.h
 * @brief A TCP forwarder on 127.0.0.1 that a test opens and closes: the S3
 *        outage of one worker (or of a fleet) without touching the shared
 *        S3Proxy that other tests use. Closed, nothing listens on its port
 *        (connect is refused) and every connection it was carrying is reset;
 *        open, it forwards to the target again, on the same port.
 *
 * @locality kt_gate_* from one thread; the forwarding runs on the gate's own thread.
 */
#ifndef KT_GATE_H
#define KT_GATE_H

#include <stdbool.h>

struct kt_gate;

/** @brief A gate to @p target ("host:port", IPv4), open or closed; a failure is fatal. */
struct kt_gate *kt_gate_new(const char *target, bool open);

/** @brief "127.0.0.1:<port>" of the gate (static storage per gate). */
const char *kt_gate_addr(const struct kt_gate *g);

/** @brief Open (forward) or close (refuse, reset) the gate. */
void kt_gate_set(struct kt_gate *g, bool open);

/** @brief Connections accepted so far. */
int kt_gate_accepted(struct kt_gate *g);

/** @brief Stop and free. NULL is a no-op. */
void kt_gate_free(struct kt_gate *g);

#endif
