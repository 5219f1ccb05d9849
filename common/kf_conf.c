#include "common/kf_conf.h"

#include "common/kf_err.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kf_conf_value {
    char *text; /* NULL = unset */
    int64_t i;
    double d;
    bool b;
    bool explicit_set;
};

struct kf_conf_kv {
    char *key;
    char *value;
};

struct kf_conf {
    const struct kf_prop *props;
    size_t nprops;
    struct kf_conf_value *values;
    struct kf_conf_kv *kafka;
    size_t nkafka;
};

static const char *const type_names[] = {"string", "integer", "number", "boolean", "enum"};

static int prop_index(const kf_conf *conf, const char *name)
{
    for (size_t i = 0; i < conf->nprops; i++)
        if (!strcmp(conf->props[i].name, name))
            return (int)i;
    return -1;
}

static bool has_range(const struct kf_prop *p)
{
    return p->min != 0 || p->max != 0;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (end == s || errno)
        return -EINVAL;
    int64_t mult = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1024;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1024LL * 1024 * 1024;
        end++;
        break;
    default: break;
    }
    if (*end)
        return -EINVAL;
    if (v > INT64_MAX / mult || v < INT64_MIN / mult)
        return -EINVAL;
    *out = (int64_t)v * mult;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static bool enum_has(const char *values, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = values; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, s, n))
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/* Parse and range-check @p text for @p p into @p v (text not stored). */
static int value_parse(const struct kf_prop *p, const char *text, struct kf_conf_value *v,
                       char *errstr, size_t errstr_size)
{
    switch (p->type) {
    case KF_PROP_STR: return 0;
    case KF_PROP_INT:
        if (parse_int(text, &v->i)) {
            kf_errf(errstr, errstr_size, "%s: '%s' is not an integer", p->name, text);
            return -EINVAL;
        }
        if (has_range(p) && (v->i < (int64_t)p->min || v->i > (int64_t)p->max)) {
            kf_errf(errstr, errstr_size, "%s: %s is out of range [%.0f, %.0f]", p->name, text,
                    p->min, p->max);
            return -EINVAL;
        }
        return 0;
    case KF_PROP_DOUBLE: {
        char *end;
        errno = 0;
        v->d = strtod(text, &end);
        if (end == text || *end || errno || !isfinite(v->d)) {
            kf_errf(errstr, errstr_size, "%s: '%s' is not a number", p->name, text);
            return -EINVAL;
        }
        if (has_range(p) && (v->d < p->min || v->d > p->max)) {
            kf_errf(errstr, errstr_size, "%s: %s is out of range [%g, %g]", p->name, text, p->min,
                    p->max);
            return -EINVAL;
        }
        return 0;
    }
    case KF_PROP_BOOL:
        if (parse_bool(text, &v->b)) {
            kf_errf(errstr, errstr_size, "%s: '%s' is not a boolean (true|false)", p->name, text);
            return -EINVAL;
        }
        return 0;
    case KF_PROP_ENUM:
        if (!enum_has(p->values, text)) {
            kf_errf(errstr, errstr_size, "%s: '%s' is not one of %s", p->name, text, p->values);
            return -EINVAL;
        }
        return 0;
    }
    return -EINVAL;
}

static int value_store(const struct kf_prop *p, struct kf_conf_value *v, const char *text,
                       char *errstr, size_t errstr_size)
{
    struct kf_conf_value parsed = {0};
    int err = value_parse(p, text, &parsed, errstr, errstr_size);
    if (err)
        return err;
    char *copy = strdup(text);
    if (!copy)
        return -ENOMEM;
    free(v->text);
    parsed.text = copy;
    parsed.explicit_set = v->explicit_set;
    *v = parsed;
    return 0;
}

kf_conf *kf_conf_new(const struct kf_prop *props, size_t nprops, char *errstr, size_t errstr_size)
{
    kf_conf *conf = calloc(1, sizeof(*conf));
    if (!conf)
        goto oom;
    conf->props = props;
    conf->nprops = nprops;
    conf->values = calloc(nprops ? nprops : 1, sizeof(*conf->values));
    if (!conf->values)
        goto oom;
    for (size_t i = 0; i < nprops; i++) {
        if (!props[i].def) {
            assert(props[i].type == KF_PROP_STR);
            continue;
        }
        int err = value_store(&props[i], &conf->values[i], props[i].def, errstr, errstr_size);
        if (err) {
            kf_conf_free(conf);
            return NULL;
        }
    }
    return conf;
oom:
    kf_errf(errstr, errstr_size, "out of memory");
    kf_conf_free(conf);
    return NULL;
}

void kf_conf_free(kf_conf *conf)
{
    if (!conf)
        return;
    if (conf->values)
        for (size_t i = 0; i < conf->nprops; i++)
            free(conf->values[i].text);
    for (size_t i = 0; i < conf->nkafka; i++) {
        free(conf->kafka[i].key);
        free(conf->kafka[i].value);
    }
    free(conf->kafka);
    free(conf->values);
    free(conf);
}

static int kafka_set(kf_conf *conf, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
    if (!*key) {
        kf_errf(errstr, errstr_size, "'kafka.' needs a librdkafka property name after it");
        return -EINVAL;
    }
    for (size_t i = 0; i < conf->nkafka; i++) {
        if (!strcmp(conf->kafka[i].key, key)) {
            char *v = strdup(value);
            if (!v)
                return -ENOMEM;
            free(conf->kafka[i].value);
            conf->kafka[i].value = v;
            return 0;
        }
    }
    struct kf_conf_kv *kv = realloc(conf->kafka, (conf->nkafka + 1) * sizeof(*kv));
    if (!kv)
        return -ENOMEM;
    conf->kafka = kv;
    kv[conf->nkafka].key = strdup(key);
    kv[conf->nkafka].value = strdup(value);
    if (!kv[conf->nkafka].key || !kv[conf->nkafka].value) {
        free(kv[conf->nkafka].key);
        free(kv[conf->nkafka].value);
        return -ENOMEM;
    }
    conf->nkafka++;
    return 0;
}

int kf_conf_set(kf_conf *conf, const char *name, const char *value, char *errstr,
                size_t errstr_size)
{
    if (!conf || !name || !value) {
        kf_errf(errstr, errstr_size, "property name and value are required");
        return -EINVAL;
    }
    size_t plen = strlen(KF_CONF_KAFKA_PREFIX);
    if (!strncmp(name, KF_CONF_KAFKA_PREFIX, plen))
        return kafka_set(conf, name + plen, value, errstr, errstr_size);
    int i = prop_index(conf, name);
    if (i < 0) {
        kf_errf(errstr, errstr_size, "unknown property '%s' (see --help for the list)", name);
        return -ENOENT;
    }
    int err = value_store(&conf->props[i], &conf->values[i], value, errstr, errstr_size);
    if (!err)
        conf->values[i].explicit_set = true;
    return err;
}

int kf_conf_set_kv(kf_conf *conf, const char *kv, char *errstr, size_t errstr_size)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv) {
        kf_errf(errstr, errstr_size, "expected name=value, got '%s'", kv ? kv : "");
        return -EINVAL;
    }
    char *name = strndup(kv, (size_t)(eq - kv));
    if (!name)
        return -ENOMEM;
    int err = kf_conf_set(conf, name, eq + 1, errstr, errstr_size);
    free(name);
    return err;
}

int kf_conf_set_kafka_kv(kf_conf *conf, const char *kv, char *errstr, size_t errstr_size)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv) {
        kf_errf(errstr, errstr_size, "expected KEY=VALUE, got '%s'", kv ? kv : "");
        return -EINVAL;
    }
    size_t plen = strlen(KF_CONF_KAFKA_PREFIX);
    if (!strncmp(kv, KF_CONF_KAFKA_PREFIX, plen))
        kv += plen;
    char *key = strndup(kv, (size_t)(eq - kv));
    if (!key)
        return -ENOMEM;
    int err = kafka_set(conf, key, eq + 1, errstr, errstr_size);
    free(key);
    return err;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int kf_conf_load_file(kf_conf *conf, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = -errno;
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return err;
    }
    char line[4096];
    int lineno = 0, err = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            kf_errf(errstr, errstr_size, "%s:%d: expected name=value", path, lineno);
            err = -EINVAL;
            break;
        }
        *eq = '\0';
        char msg[512];
        err = kf_conf_set(conf, trim(s), trim(eq + 1), msg, sizeof(msg));
        if (err) {
            kf_errf(errstr, errstr_size, "%s:%d: %s", path, lineno, msg);
            break;
        }
    }
    fclose(f);
    return err;
}

int kf_conf_load_env(kf_conf *conf, const char *prefix, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < conf->nprops; i++) {
        char var[256];
        int n = snprintf(var, sizeof(var), "%s%s", prefix, conf->props[i].name);
        if (n < 0 || (size_t)n >= sizeof(var))
            continue;
        for (char *c = var; *c; c++)
            *c = (*c == '.' || *c == '-') ? '_' : (char)toupper((unsigned char)*c);
        const char *value = getenv(var);
        if (!value)
            continue;
        char msg[512];
        int err = kf_conf_set(conf, conf->props[i].name, value, msg, sizeof(msg));
        if (err) {
            kf_errf(errstr, errstr_size, "environment %s: %s", var, msg);
            return err;
        }
    }
    return 0;
}

/* A getter asked for a name not in the table, or with the wrong type, is a
 * bug in the caller. An assert would vanish in a release build (NDEBUG) and
 * leave it reading values[-1] or the wrong union member: abort in every build,
 * naming the property, so that the bug shows at the first call. */
static _Noreturn void getter_misuse(const char *name, const char *what)
{
    fprintf(stderr, "kf_conf: property \"%s\" %s (a bug in the caller)\n", name ? name : "(null)",
            what);
    fflush(stderr);
    abort();
}

static int prop_index_or_abort(const kf_conf *conf, const char *name)
{
    int i = name ? prop_index(conf, name) : -1;
    if (i < 0)
        getter_misuse(name, "is not in the table");
    return i;
}

static const struct kf_conf_value *value_get(const kf_conf *conf, const char *name,
                                             enum kf_prop_type type)
{
    int i = prop_index_or_abort(conf, name);
    if (conf->props[i].type != type &&
        !(type == KF_PROP_STR && conf->props[i].type == KF_PROP_ENUM))
        getter_misuse(name, "is read with a getter of another type");
    return &conf->values[i];
}

const char *kf_conf_str(const kf_conf *conf, const char *name)
{
    return value_get(conf, name, KF_PROP_STR)->text;
}

int64_t kf_conf_int(const kf_conf *conf, const char *name)
{
    return value_get(conf, name, KF_PROP_INT)->i;
}

double kf_conf_double(const kf_conf *conf, const char *name)
{
    return value_get(conf, name, KF_PROP_DOUBLE)->d;
}

bool kf_conf_bool(const kf_conf *conf, const char *name)
{
    return value_get(conf, name, KF_PROP_BOOL)->b;
}

bool kf_conf_is_set(const kf_conf *conf, const char *name)
{
    return conf->values[prop_index_or_abort(conf, name)].explicit_set;
}

size_t kf_conf_kafka_count(const kf_conf *conf)
{
    return conf->nkafka;
}

void kf_conf_kafka_get(const kf_conf *conf, size_t i, const char **key, const char **value)
{
    assert(i < conf->nkafka);
    *key = conf->kafka[i].key;
    *value = conf->kafka[i].value;
}

static void range_text(const struct kf_prop *p, char *buf, size_t size)
{
    buf[0] = '\0';
    if (p->type == KF_PROP_ENUM)
        snprintf(buf, size, "%s", p->values);
    else if (has_range(p))
        snprintf(buf, size, "%g..%g", p->min, p->max);
}

void kf_conf_print_help(const struct kf_prop *props, size_t nprops, FILE *out)
{
    for (size_t i = 0; i < nprops; i++) {
        const struct kf_prop *p = &props[i];
        char range[256];
        range_text(p, range, sizeof(range));
        fprintf(out, "  %-28s %-8s default: %s%s%s\n      %s\n", p->name, type_names[p->type],
                p->def ? p->def : "(unset)", range[0] ? "  range: " : "", range, p->doc);
    }
    fprintf(out, "  %-28s %-8s passed to librdkafka as KEY\n", "kafka.KEY", "string");
}

void kf_conf_print_markdown(const struct kf_prop *props, size_t nprops, FILE *out)
{
    fprintf(out, "| property | type | default | range | description |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    for (size_t i = 0; i < nprops; i++) {
        const struct kf_prop *p = &props[i];
        char range[256], md[512];
        range_text(p, range, sizeof(range));
        /* '|' separates enum values and Markdown cells alike: escape it */
        size_t o = 0;
        for (const char *c = range; *c && o + 3 < sizeof(md); c++) {
            if (*c == '|')
                md[o++] = '\\';
            md[o++] = *c;
        }
        md[o] = '\0';
        fprintf(out, "| `%s` | %s | %s | %s | %s |\n", p->name, type_names[p->type],
                p->def ? p->def : "", md, p->doc);
    }
    fprintf(out, "| `kafka.*` | string | | | passed to librdkafka unchanged, prefix removed |\n");
}
