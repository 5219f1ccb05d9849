/* kafka-echo: the Kafka floor for bench/serve. Consumes the requests topic as
 * a group, answers each request with a minimal response (same id, status
 * error "echo", no compute), stores the offset after delivery and commits —
 * the same Kafka work a worker does, without batching or inference.
 *
 *   kafka-echo BROKERS REQUESTS_TOPIC RESPONSES_TOPIC GROUP SECONDS */
#include "common/kf_clock.h"
#include "common/kio_consumer.h"
#include "common/kio_producer.h"
#include "schema/req.h"
#include "schema/resp.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static kio_consumer *kc;

static void on_delivery(void *opaque, const struct kio_delivery *dr)
{
    kio_msg *m = dr->opaque;
    if (!dr->err)
        kio_consumer_store_msg(kc, m);
    kio_msg_free(m);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: kafka-echo BROKERS REQUESTS RESPONSES GROUP SECONDS\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    char err[512];
    struct kio_opts o = {.brokers = argv[1], .client_id = "kafka-echo"};
    struct kio_consumer_opts co = {.group_id = argv[4]};
    kc = kio_consumer_new(&o, &co, err, sizeof(err));
    kio_producer *kp = kc ? kio_producer_new(&o, on_delivery, err, sizeof(err)) : NULL;
    if (!kp) {
        fprintf(stderr, "kafka-echo: %s\n", err);
        return 1;
    }
    const char *topics[] = {argv[2]};
    kio_consumer_subscribe(kc, topics, 1);
    int64_t end = kf_clock_mono_us() + atoll(argv[5]) * 1000000LL, last_commit = 0;
    long echoed = 0;
    while (!stop && kf_clock_mono_us() < end) {
        kio_msg *m = NULL;
        kio_consumer_poll(kc, 10, &m);
        if (m) {
            struct req rq;
            kf_buf v;
            kf_buf_init(&v);
            if (!req_decode(m->value.ptr, m->value.len, NULL, &rq, err, sizeof(err))) {
                struct resp rs = {.v = 1,
                                  .id = rq.id,
                                  .model = rq.model,
                                  .status = RESP_ERROR,
                                  .err_code = {(const uint8_t *)"echo", 4},
                                  .err_message = {(const uint8_t *)"echo", 4},
                                  .worker = {(const uint8_t *)"echo", 4}};
                resp_encode(&rs, &v);
            }
            struct kio_out_msg out = {.topic = argv[3],
                                      .partition = KIO_PARTITION_ANY,
                                      .key = m->key,
                                      .value = v.ptr,
                                      .value_len = v.len,
                                      .opaque = m};
            if (kio_producer_send(kp, &out, KIO_SEND_FREE | KIO_SEND_BLOCK)) {
                kf_buf_fini(&v);
                kio_msg_free(m);
            } else {
                echoed++;
            }
        }
        kio_producer_poll(kp, 0);
        if (kf_clock_mono_us() - last_commit > 200000) {
            kio_consumer_commit(kc, true);
            last_commit = kf_clock_mono_us();
        }
    }
    kio_producer_flush(kp, 10000);
    kio_producer_poll(kp, 0);
    kio_consumer_commit(kc, false);
    kio_producer_free(kp);
    kio_consumer_free(kc);
    fprintf(stderr, "kafka-echo: echoed %ld\n", echoed);
    return 0;
}
