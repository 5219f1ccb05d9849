/* Kafka transactions (kio_txn.h): a thin layer over librdkafka's
 * transactional API that turns its rd_kafka_error_t into what the caller
 * does next (retry, abort, stop). */
#include "common/kio_txn.h"

#include "common/kf_err.h"
#include "common/kio_consumer_impl.h"

#include <errno.h>
#include <stdio.h>

/* kio_producer, like every kio handle, starts with its kio_common. */
static rd_kafka_t *producer_rk(kio_producer *kp)
{
    return ((struct kio_common *)kp)->rk;
}

static int txn_result(rd_kafka_error_t *error, const char *what, char *errstr, size_t errstr_size)
{
    if (!error)
        return 0;
    int err;
    if (rd_kafka_error_is_fatal(error))
        err = -ENOTRECOVERABLE;
    else if (rd_kafka_error_txn_requires_abort(error))
        err = -ECANCELED;
    else if (rd_kafka_error_is_retriable(error))
        err = -EAGAIN;
    else if (rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__STATE ||
             rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__NOT_CONFIGURED)
        err = -EINVAL;
    else
        err = -EIO;
    kf_errf(errstr, errstr_size, "%s: %s (%s)", what, rd_kafka_error_string(error),
            rd_kafka_error_name(error));
    rd_kafka_error_destroy(error);
    return err;
}

int kio_txn_init(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!kp)
        return -EINVAL;
    return txn_result(rd_kafka_init_transactions(producer_rk(kp), timeout_ms), "init transactions",
                      errstr, errstr_size);
}

int kio_txn_begin(kio_producer *kp, char *errstr, size_t errstr_size)
{
    if (!kp)
        return -EINVAL;
    return txn_result(rd_kafka_begin_transaction(producer_rk(kp)), "begin transaction", errstr,
                      errstr_size);
}

int kio_txn_send_offsets(kio_producer *kp, kio_consumer *kc, const kio_tplist *offsets,
                         int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!kp || !kc || !offsets || !offsets->count)
        return -EINVAL;
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(kc->c.rk);
    rd_kafka_topic_partition_list_t *rl = kio_tplist_to_rd(offsets);
    if (!cgmd || !rl) {
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        rd_kafka_topic_partition_list_destroy(rl);
        kf_errf(errstr, errstr_size, "send offsets: out of memory");
        return -ENOMEM;
    }
    int err =
        txn_result(rd_kafka_send_offsets_to_transaction(producer_rk(kp), rl, cgmd, timeout_ms),
                   "send offsets to the transaction", errstr, errstr_size);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(rl);
    return err;
}

int kio_txn_commit(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!kp)
        return -EINVAL;
    return txn_result(rd_kafka_commit_transaction(producer_rk(kp), timeout_ms),
                      "commit transaction", errstr, errstr_size);
}

int kio_txn_abort(kio_producer *kp, int timeout_ms, char *errstr, size_t errstr_size)
{
    if (!kp)
        return -EINVAL;
    return txn_result(rd_kafka_abort_transaction(producer_rk(kp), timeout_ms), "abort transaction",
                      errstr, errstr_size);
}
