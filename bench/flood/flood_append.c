/* flood-append BROKERS TOPIC MODEL N: append N forged control events
 * (unsigned rollout.claim of phantom workers for MODEL v1) to TOPIC, as fast
 * as librdkafka takes them, and wait for their delivery. bench/flood's
 * attacker: a small C producer rather than a JVM, so that the flood's own CPU
 * is that of Kafka's client library, not of a Java start-up. */
#include "common/kf_err.h"
#include "common/kio_producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_delivery(void *opaque, const struct kio_delivery *dr)
{
    if (dr->err)
        ++*(long *)opaque;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: flood-append BROKERS TOPIC MODEL N\n");
        return 2;
    }
    long n = atol(argv[4]), failed = 0;
    static const char *const props[] = {"linger.ms", "5", "batch.size", "262144", NULL};
    struct kio_opts o = {
        .brokers = argv[1], .client_id = "flood", .props = props, .opaque = &failed};
    char err[256];
    kio_producer *kp = kio_producer_new(&o, on_delivery, err, sizeof(err));
    if (!kp) {
        fprintf(stderr, "flood-append: %s\n", err);
        return 1;
    }
    char value[512];
    for (long i = 0; i < n; i++) {
        int len = snprintf(value, sizeof(value),
                           "{\"claim_id\":\"ph%ld/%s/v1/%ld\",\"event_id\":\"flood-%ld\","
                           "\"model\":\"%s\",\"type\":\"rollout.claim\",\"v\":1,"
                           "\"version\":\"v1\",\"worker\":\"ph%ld\"}",
                           i, argv[3], i, i, argv[3], i);
        struct kio_out_msg m = {
            .topic = argv[2], .partition = 0, .value = value, .value_len = (size_t)len};
        int e = kio_producer_send(kp, &m, KIO_SEND_COPY | KIO_SEND_BLOCK);
        if (e) {
            fprintf(stderr, "flood-append: record %ld: %s\n", i, kf_strerror(e));
            kio_producer_free(kp);
            return 1;
        }
    }
    int e = kio_producer_flush(kp, 60000);
    kio_producer_free(kp);
    if (e || failed) {
        fprintf(stderr, "flood-append: %ld of %ld not delivered (%s)\n", failed, n, kf_strerror(e));
        return 1;
    }
    return 0;
}
