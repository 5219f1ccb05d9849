/* Control-event parser and the signature header: never crash; every event
 * that decodes encodes, and decodes back to the same value. */
#include "schema/ctl_event.h"
#include "schema/ctl_sig.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ctl_event ev, back;
    char err[256];
    /* the first bytes double as a kfleet-sig header over the rest */
    size_t hl = size < CTL_SIG_HEADER_LEN ? size : CTL_SIG_HEADER_LEN;
    ctl_sig_verify(data, hl, data + hl, size - hl, NULL, NULL);
    if (ctl_event_decode(data, size, &ev, err, sizeof(err)))
        return 0;
    kf_buf b;
    kf_buf_init(&b);
    int rc = ctl_event_encode(&ev, &b, err, sizeof(err));
    if (rc)
        fprintf(stderr, "re-encode failed: %s\n", err);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(ctl_event_decode(b.ptr, b.len, &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(!memcmp(&ev, &back, sizeof(ev)));
    kf_buf_fini(&b);
    return 0;
}
