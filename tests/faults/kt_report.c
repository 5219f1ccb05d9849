/* The figures table in docs/reliability.md (kt_report.h). */
#include "tests/faults/kt_report.h"

#include "common/kf_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define BEGIN "<!-- faults-table -->"
#define END "<!-- /faults-table -->"
#define HEADER                                                                                \
    "| # | fault | what was done | lost | duplicated | p99 during / before | worker exits | " \
    "time to recover | result |\n"                                                            \
    "|---|---|---|---|---|---|---|---|---|\n"
#define MAX_ROWS 64

static void cell(kf_buf *b, const char *s)
{
    kf_buf_append(b, " ", 1);
    for (; s && *s; s++)
        kf_buf_append(b, *s == '|' ? "/" : *s == '\n' ? " " : s, 1);
    kf_buf_append(b, " |", 2);
}

static char *read_all(int fd)
{
    kf_buf b;
    kf_buf_init(&b);
    char tmp[8192];
    ssize_t n;
    while ((n = read(fd, tmp, sizeof(tmp))) > 0)
        kf_buf_append(&b, tmp, (size_t)n);
    kf_buf_append(&b, "", 1);
    size_t len;
    return (char *)kf_buf_steal(&b, &len);
}

/* The key of a table line "| key | ...", or -1 for anything else (the header). */
static long line_key(const char *line)
{
    if (line[0] != '|')
        return -1;
    char *end;
    long k = strtol(line + 1, &end, 10);
    return end != line + 1 && *end == ' ' ? k : -1;
}

static int cmp_line(const void *a, const void *b)
{
    long x = line_key(*(char *const *)a), y = line_key(*(char *const *)b);
    return x < y ? -1 : x > y;
}

static int write_doc(const char *path, const char *key, const char *row)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX)) {
        fprintf(stderr, "report: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *doc = read_all(fd);
    char *begin = strstr(doc, BEGIN), *end = begin ? strstr(begin, END) : NULL;
    kf_buf out;
    kf_buf_init(&out);
    char *lines[MAX_ROWS];
    size_t n = 0;
    long want = strtol(key, NULL, 10);
    if (begin && end) {
        kf_buf_append(&out, doc, (size_t)(begin - doc));
        for (char *p = begin + strlen(BEGIN); p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            char *line = strndup(p, len);
            if (line_key(line) >= 0 && line_key(line) != want && n < MAX_ROWS - 1)
                lines[n++] = line;
            else
                free(line);
            p += len + (nl ? 1 : 0);
        }
    } else {
        kf_buf_append(&out, doc, strlen(doc));
        kf_buf_append(&out, "\n", 1);
    }
    lines[n++] = strdup(row);
    qsort(lines, n, sizeof(*lines), cmp_line);
    kf_buf_appendf(&out, "%s\n%s", BEGIN, HEADER);
    for (size_t i = 0; i < n; i++) {
        kf_buf_appendf(&out, "%s\n", lines[i]);
        free(lines[i]);
    }
    kf_buf_append(&out, END, strlen(END));
    if (begin && end)
        kf_buf_append(&out, end + strlen(END), strlen(end + strlen(END)));
    else
        kf_buf_append(&out, "\n", 1);
    int rc = 0;
    if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) ||
        write(fd, out.ptr, out.len) != (ssize_t)out.len) {
        fprintf(stderr, "report: cannot write %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    kf_buf_fini(&out);
    free(doc);
    close(fd); /* releases the lock */
    return rc;
}

int kt_report_row(const char *key, const char *const cells[KT_REPORT_CELLS])
{
    kf_buf b;
    kf_buf_init(&b);
    kf_buf_append(&b, "|", 1);
    cell(&b, key);
    for (int i = 0; i < KT_REPORT_CELLS; i++)
        cell(&b, cells[i]);
    kf_buf_append(&b, "", 1);
    printf("row %s\n", (const char *)b.ptr);
    fflush(stdout);
    const char *path = getenv("KFLEET_RELIABILITY_DOC");
    int rc = path && *path ? write_doc(path, key, (const char *)b.ptr) : 0;
    kf_buf_fini(&b);
    return rc;
}
