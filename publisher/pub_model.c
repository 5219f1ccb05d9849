/* Reading the model file: map it (a 1 GiB model is never copied; chunks are
 * hashed and uploaded straight from the mapping), validate, bind. */
#include "publisher/pub_model.h"

#include "common/kf_err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int map_file(const char *path, const uint8_t **data, size_t *len, char *errstr,
                    size_t errstr_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        int err = -errno;
        kf_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        kf_errf(errstr, errstr_size, "%s: not a regular file", path);
        return -EINVAL;
    }
    *len = (size_t)st.st_size;
    *data = NULL;
    if (*len) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = -errno;
            kf_errf(errstr, errstr_size, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            return err;
        }
        *data = p;
    }
    close(fd);
    return 0;
}

int pub_model_open(struct pub_model *pm, const char *weights_path, const char *arch_path,
                   char *errstr, size_t errstr_size)
{
    memset(pm, 0, sizeof(*pm));
    char msg[512];
    int err = map_file(weights_path, &pm->file, &pm->file_len, errstr, errstr_size);
    if (err)
        return err;
    static const uint8_t empty[1];
    err = safet_parse(pm->file ? pm->file : empty, pm->file_len, pm->file_len, &pm->sf, msg,
                      sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "%s: not a valid safetensors file: %s", weights_path, msg);
        return err == -ENOMEM ? err : -EPROTO;
    }
    if (arch_path) {
        const uint8_t *a = NULL;
        size_t alen = 0;
        if ((err = map_file(arch_path, &a, &alen, errstr, errstr_size)))
            return err;
        err = arch_parse(a ? a : empty, alen, &pm->arch, msg, sizeof(msg));
        if (a)
            munmap((void *)a, alen);
        if (err) {
            kf_errf(errstr, errstr_size, "%s: not a valid architecture: %s", arch_path, msg);
            return err == -ENOMEM ? err : -EPROTO;
        }
    } else {
        const char *a = safet_meta_get(pm->sf, SAFET_META_ARCH);
        if (!a) {
            kf_errf(errstr, errstr_size,
                    "%s has no \"%s\" in its __metadata__: give the architecture with --arch FILE",
                    weights_path, SAFET_META_ARCH);
            return -EINVAL;
        }
        err = arch_parse((const uint8_t *)a, strlen(a), &pm->arch, msg, sizeof(msg));
        if (err) {
            kf_errf(errstr, errstr_size, "%s: the \"%s\" metadata is not a valid architecture: %s",
                    weights_path, SAFET_META_ARCH, msg);
            return err == -ENOMEM ? err : -EPROTO;
        }
    }
    err = arch_bind(&pm->arch, pm->sf->tensors, pm->sf->n_tensors, &pm->dtype, msg, sizeof(msg));
    if (err) {
        kf_errf(errstr, errstr_size, "the architecture%s%s does not match the tensors of %s: %s",
                arch_path ? " in " : "", arch_path ? arch_path : "", weights_path, msg);
        return err == -ENOMEM ? err : -EPROTO;
    }
    pm->blob = pm->file + pm->sf->data_offset;
    pm->blob_size = pm->sf->data_size;
    if (!pm->blob_size) {
        kf_errf(errstr, errstr_size, "%s: the data section is empty", weights_path);
        return -EPROTO;
    }
    return 0;
}

void pub_model_close(struct pub_model *pm)
{
    arch_desc_fini(&pm->arch);
    safet_file_free(pm->sf);
    if (pm->file)
        munmap((void *)pm->file, pm->file_len);
    memset(pm, 0, sizeof(*pm));
}
