/**
 * @file pub.h
 * @brief publish-model as a library: the invocation context every command
 *        shares (configuration, object store, signing key, trusted keys),
 *        and the property table behind `-X name=value`.
 *
 * The commands themselves are in pub_push.h (push), pub_control.h (the
 * control log and announcements) and pub_ops.h (operator commands, ls,
 * verify, keygen). Tests link the `kfpublisher` library and call them
 * directly; the `publish-model` binary is pub_cli.c over the same calls.
 *
 * @locality one pub_ctx belongs to one thread; push uses worker threads of
 *           its own internally (hashing, HEADs) and joins them before returning.
 */
#ifndef KF_PUB_H
#define KF_PUB_H

#include "common/crypto.h"
#include "common/kf_conf.h"
#include "common/kio.h"
#include "common/objstore.h"
#include "publisher/pub_conf.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/**
 * The property table (`-X name=value`, a `-F` file, or KFLEET_NAME in the
 * environment). Defaults match ops/devstack. `kafka.*` keys go to librdkafka.
 */
extern const struct kf_prop pub_props[];
extern const size_t pub_props_count;

/** @brief Everything one invocation needs. Embedded: pub_ctx_init / pub_ctx_fini. */
struct pub_ctx {
    /** Borrowed, must outlive the context: its kafka.* entries go to librdkafka.
     *  Settings are read from cfg, never from here by name. */
    kf_conf *conf;
    struct pub_config cfg;         /**< conf parsed (pub_ctx_init, pub_ctx_conf_changed) */
    objstore *os;                  /**< owned; opened on first use by pub_store() */
    struct crypto_ed25519_key key; /**< the signing key (private half) when have_key */
    bool have_key;
    crypto_keyring *trusted; /**< owned; the trusted_keys file, NULL when unset */
    crypto_keyring *own;     /**< owned; the signing key's public half (pub_ctx_keyring) */
    bool progress;           /**< draw progress bars on stderr (the CLI: isatty(2)) */
    int verbose;             /**< 0 normal; 1 and more: say more on stderr */
    FILE *out;               /**< borrowed: summaries, listings, dry-run manifests (stdout) */
    /** Optional, borrowed: set by a signal handler; long commands stop (-ECANCELED)
     *  at the next stage boundary. */
    volatile sig_atomic_t *stop;
    /** The last error librdkafka reported outside a call ("1/1 brokers are
     *  down (Connection refused)"), for messages; "" when none. */
    char kafka_err[256];
};

/** @brief A context over @p conf (borrowed; parsed into pc->cfg) writing to stdout; no I/O yet. */
void pub_ctx_init(struct pub_ctx *pc, kf_conf *conf);
/** @brief Parse pc->conf into pc->cfg again, after a change to it (tests). */
void pub_ctx_conf_changed(struct pub_ctx *pc);
/** @brief Release the store, the keyring and wipe the private key. */
void pub_ctx_fini(struct pub_ctx *pc);

/**
 * @brief Load the signing key from a private key file (NAME.key).
 * @returns 0; -ENOENT/-EACCES the file; -EPROTO not a key file;
 *          -ENOKEY a public key file (errstr says push needs the private one)
 */
int pub_ctx_load_key(struct pub_ctx *pc, const char *path, char *errstr, size_t errstr_size);

/**
 * @brief Load the `trusted_keys` file when the property is set (else nothing).
 * @returns 0; the file's errors (-ENOENT, -EACCES, -EPROTO), errstr names it
 */
int pub_ctx_load_trusted(struct pub_ctx *pc, char *errstr, size_t errstr_size);

/**
 * @brief The keys signatures are checked against: the trusted keys if
 *        configured (what the workers check), else the signing key's public half.
 * @returns borrowed, valid until pub_ctx_fini; NULL when there is neither
 *          (errstr says what to give) or on OOM
 */
const crypto_keyring *pub_ctx_keyring(struct pub_ctx *pc, char *errstr, size_t errstr_size);

/**
 * @brief Open the object store named by `store.url` (default s3://`s3.bucket`)
 *        with the s3.* settings, once; later calls return 0 at once.
 * @returns 0; -EINVAL bad URL or settings (errstr says which)
 */
int pub_store(struct pub_ctx *pc, char *errstr, size_t errstr_size);

/** @brief The store URL the configuration names (borrowed from a static or the conf). */
const char *pub_store_url(const struct pub_ctx *pc);

/**
 * @brief kio options for this invocation: brokers, client id, kafka.*
 *        passthrough; librdkafka's own logging and its asynchronous errors are
 *        kept out of a normal run's stderr (they go to pc->kafka_err and show
 *        with -v), since the command reports failures itself.
 * @param props  NULL or {"key", "value", ..., NULL} of the caller (borrowed)
 * @param buf    room for the combined list (at least 2 + count(props) + 1 entries)
 */
struct kio_opts pub_kio_opts(struct pub_ctx *pc, const char *const *props, const char **buf,
                             size_t buf_len);

/** @brief " (1/1 brokers are down (Connection refused))" or "": for error messages. */
const char *pub_kafka_detail(const struct pub_ctx *pc, char *buf, size_t size);

/** @brief Whether a stop was requested (pc->stop set and non-zero). */
bool pub_stopped(const struct pub_ctx *pc);

/** @brief "12.3 MiB": @p bytes in binary units into @p buf. Returns buf. */
const char *pub_fmt_bytes(uint64_t bytes, char *buf, size_t size);

#endif
