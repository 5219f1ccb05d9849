/* A consumed message in kio's own struct. The rd_kafka_message_t stays alive
 * behind it (one allocation holds the public struct, the header array and the
 * pointer back), so topic, key, value and header bytes are borrowed from
 * librdkafka without copying. */
#include "common/kio_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kio_msg_impl {
    kio_msg pub; /* first: kio_msg * and kio_msg_impl * are interchangeable */
    rd_kafka_message_t *rkm;
    struct kio_header hdrs[]; /* pub.header_count of them */
};

static enum kio_ts_type ts_type_from_rd(rd_kafka_timestamp_type_t t)
{
    switch (t) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME: return KIO_TS_CREATE_TIME;
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME: return KIO_TS_LOG_APPEND_TIME;
    default: return KIO_TS_NONE;
    }
}

kio_msg *kio_msg_wrap(rd_kafka_message_t *rkm)
{
    /* A partition-EOF event carries librdkafka's text as its payload. */
    bool eof = rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    rd_kafka_headers_t *hdrs = NULL;
    size_t nh = 0;
    /* rd_kafka_message_headers parses lazily and keeps ownership. */
    if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs)
        nh = rd_kafka_header_cnt(hdrs);
    struct kio_msg_impl *m = malloc(sizeof(*m) + nh * sizeof(m->hdrs[0]));
    if (!m)
        return NULL;
    size_t got = 0;
    for (size_t i = 0; i < nh; i++) {
        const char *name;
        const void *val;
        size_t len;
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        m->hdrs[got++] = (struct kio_header){.name = name, .value = {val, val ? len : 0}};
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(rkm, &tstype);
    m->rkm = rkm;
    m->pub = (kio_msg){
        .topic = rd_kafka_topic_name(rkm->rkt),
        .partition = rkm->partition,
        .offset = rkm->offset,
        .key = {eof ? NULL : rkm->key, rkm->key && !eof ? rkm->key_len : 0},
        .value = {eof ? NULL : rkm->payload, rkm->payload && !eof ? rkm->len : 0},
        .timestamp_ms = ts,
        .ts_type = ts_type_from_rd(tstype),
        .headers = got ? m->hdrs : NULL,
        .header_count = got,
        .eof = eof,
    };
    return &m->pub;
}

void kio_msg_free(kio_msg *msg)
{
    if (!msg)
        return;
    struct kio_msg_impl *m = (struct kio_msg_impl *)msg;
    rd_kafka_message_destroy(m->rkm);
    free(m);
}

int kio_msg_header(const kio_msg *msg, const char *name, kf_bytes *value)
{
    if (!msg || !name)
        return -EINVAL;
    for (size_t i = msg->header_count; i-- > 0;) {
        if (!strcmp(msg->headers[i].name, name)) {
            if (value)
                *value = msg->headers[i].value;
            return 0;
        }
    }
    return -ENOENT;
}
