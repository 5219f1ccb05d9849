/* bench-s3-put FILE CHUNK PARALLEL: PUT a file's bytes as chunks in one s3io
 * batch with PARALLEL requests in flight: the raw floor for publish-model's
 * upload. Prints "put N bytes in T us: R MiB/s" (bench/publish/run.sh reads it). */
#include "common/kf_clock.h"
#include "common/s3io.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-s3-put FILE CHUNK PARALLEL\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st))
        return 1;
    size_t len = (size_t)st.st_size, chunk = (size_t)atoll(argv[2]);
    int par = atoi(argv[3]);
    const uint8_t *data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    char err[512];
    struct s3io_opts o = {.endpoint = getenv("KFLEET_S3_ENDPOINT"),
                          .bucket = getenv("KFLEET_S3_BUCKET"),
                          .access_key = getenv("KFLEET_S3_ACCESS_KEY"),
                          .secret_key = getenv("KFLEET_S3_SECRET_KEY"),
                          .max_parallel = par};
    s3io_global_init();
    s3io *s3 = o.endpoint ? s3io_new(&o, err, sizeof(err)) : NULL;
    if (!s3 || data == MAP_FAILED) {
        fprintf(stderr, "bench-s3-put: %s\n", s3 ? "mmap failed" : err);
        return 1;
    }
    /* One batch of every chunk with PARALLEL in flight: what publish-model's
     * upload does (pub_chunk_upload.c, put_batch), minus the HEADs. */
    int64_t t0 = kf_clock_mono_us();
    s3io_batch *b = s3io_batch_new(s3);
    for (size_t off = 0; b && off < len; off += chunk) {
        char key[96];
        snprintf(key, sizeof(key), "bench-raw/%d/%zu", (int)getpid(), off / chunk);
        if (s3io_batch_put(b, key, data + off, len - off < chunk ? len - off : chunk) < 0)
            return 1;
    }
    if (!b || s3io_batch_run(b, 600000, err, sizeof(err))) {
        fprintf(stderr, "bench-s3-put: %s\n", b ? err : "out of memory");
        return 1;
    }
    s3io_batch_free(b);
    int64_t us = kf_clock_mono_us() - t0;
    printf("put %zu bytes in %" PRId64 " us: %.0f MiB/s\n", len, us,
           (double)len / 1048576.0 / ((double)us / 1e6));
    for (size_t off = 0; off < len; off += chunk) {
        char key[96];
        snprintf(key, sizeof(key), "bench-raw/%d/%zu", (int)getpid(), off / chunk);
        s3io_delete(s3, key, 0, err, sizeof(err));
    }
    s3io_free(s3);
    return 0;
}
