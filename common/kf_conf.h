/**
 * @file kf_conf.h
 * @brief One property table drives parsing, range checks, --help and the
 *        generated configuration reference (librdkafka's rdkafka_conf.c idea).
 *
 * Values are set from (lowest to highest precedence, by call order) the
 * defaults, a file of `name=value` lines, the environment (KFLEET_NAME, upper
 * case, '.' and '-' as '_') and command-line `-X name=value` flags. Keys that
 * start with "kafka." are not in the table: they are kept verbatim (minus the
 * prefix) and handed to librdkafka, which validates them.
 *
 * @locality a kf_conf is filled at start-up on one thread and read-only afterwards.
 */
#ifndef KF_CONF_H
#define KF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum kf_prop_type {
    KF_PROP_STR,
    KF_PROP_INT, /**< int64; accepts K/M/G suffixes (powers of 1024) */
    KF_PROP_DOUBLE,
    KF_PROP_BOOL, /**< true|false|1|0|yes|no|on|off */
    KF_PROP_ENUM, /**< one of `values`, '|' separated */
};

struct kf_prop {
    const char *name;
    enum kf_prop_type type;
    const char *def;    /**< default as text; NULL = unset (STR only) */
    double min, max;    /**< INT/DOUBLE inclusive range; both 0 = unbounded */
    const char *values; /**< ENUM: "a|b|c" */
    const char *doc;
};

/** Prefix of keys passed through to librdkafka. */
#define KF_CONF_KAFKA_PREFIX "kafka."

typedef struct kf_conf kf_conf;

/**
 * @brief A configuration for @p props (borrowed: must outlive the conf),
 *        holding every default. Returns NULL if a default is invalid (a bug in
 *        the table) or on OOM, with the reason in errstr.
 */
kf_conf *kf_conf_new(const struct kf_prop *props, size_t nprops, char *errstr, size_t errstr_size);
void kf_conf_free(kf_conf *conf);

/**
 * @brief Set one property from text.
 * @returns 0; -ENOENT unknown property; -EINVAL value of the wrong type, out of
 *          range or not one of the enum's values; -ENOMEM. errstr names the
 *          property and what was expected.
 */
int kf_conf_set(kf_conf *conf, const char *name, const char *value, char *errstr,
                size_t errstr_size);
/** @brief kf_conf_set for "name=value" (a -X argument). -EINVAL without '='. */
int kf_conf_set_kv(kf_conf *conf, const char *kv, char *errstr, size_t errstr_size);
/**
 * @brief A -X argument of a program whose only properties are librdkafka's
 *        (kfleetctl, kfleet-client): "kafka.KEY=VALUE", or "KEY=VALUE" taken as
 *        kafka.KEY, so that one role's config file and -X flags work alike in
 *        every program.
 * @returns 0; -EINVAL without '=' or without a key; -ENOMEM.
 */
int kf_conf_set_kafka_kv(kf_conf *conf, const char *kv, char *errstr, size_t errstr_size);
/**
 * @brief Read `name=value` lines; '#' starts a comment; blank lines skipped.
 * @returns 0, -ENOENT/-EACCES (file), or the first kf_conf_set error, with
 *          "path:line:" in errstr.
 */
int kf_conf_load_file(kf_conf *conf, const char *path, char *errstr, size_t errstr_size);
/** @brief Set every table property whose variable PREFIX+NAME exists. Errors as kf_conf_set. */
int kf_conf_load_env(kf_conf *conf, const char *prefix, char *errstr, size_t errstr_size);

/* Getters. @p name must be in the table and of the getter's type (ENUM reads
 * as str): anything else is a bug in the caller, and aborts with the name on
 * stderr, in every build (never a read out of bounds). */
const char *kf_conf_str(const kf_conf *conf, const char *name); /**< borrowed; NULL if unset */
int64_t kf_conf_int(const kf_conf *conf, const char *name);
double kf_conf_double(const kf_conf *conf, const char *name);
bool kf_conf_bool(const kf_conf *conf, const char *name);
/** @brief Whether the value was set explicitly rather than left at its default. */
bool kf_conf_is_set(const kf_conf *conf, const char *name);

/** @brief Number of kafka.* passthrough entries. */
size_t kf_conf_kafka_count(const kf_conf *conf);
/** @brief The i-th passthrough entry, key without "kafka." (borrowed). */
void kf_conf_kafka_get(const kf_conf *conf, size_t i, const char **key, const char **value);

/** @brief Usage text: every property with type, default, range and doc. */
void kf_conf_print_help(const struct kf_prop *props, size_t nprops, FILE *out);
/** @brief The same as a Markdown table (the generated configuration reference). */
void kf_conf_print_markdown(const struct kf_prop *props, size_t nprops, FILE *out);

#endif
