/* The progress bar: redrawn in place with '\r', erased at the end, so a
 * terminal shows one live line and a log file shows nothing (off). */
#include "publisher/pub_progress.h"

#include "common/kf_clock.h"
#include "publisher/pub.h"

#include <stdio.h>

#define BAR_WIDTH 24

void pub_progress_start(struct pub_progress *p, bool on, const char *label, uint64_t total)
{
    p->on = on;
    p->label = label;
    p->total = total;
    p->t0_us = kf_clock_mono_us();
    p->last_us = 0;
    pthread_mutex_init(&p->lock, NULL);
}

void pub_progress_update(struct pub_progress *p, uint64_t done)
{
    if (!p || !p->on)
        return;
    int64_t now = kf_clock_mono_us();
    pthread_mutex_lock(&p->lock);
    if (now - p->last_us < 100000 && done < p->total) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->last_us = now;
    double frac = p->total ? (double)done / (double)p->total : 1.0;
    if (frac > 1)
        frac = 1;
    char bar[BAR_WIDTH + 1];
    int fill = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double secs = (double)(now - p->t0_us) / 1e6;
    char a[32], b[32], r[32];
    pub_fmt_bytes(done, a, sizeof(a));
    pub_fmt_bytes(p->total, b, sizeof(b));
    pub_fmt_bytes(secs > 0 ? (uint64_t)((double)done / secs) : 0, r, sizeof(r));
    fprintf(stderr, "\r\033[K  %-7s [%s] %3d%%  %s / %s  %s/s", p->label, bar, (int)(frac * 100), a,
            b, r);
    fflush(stderr);
    pthread_mutex_unlock(&p->lock);
}

void pub_progress_end(struct pub_progress *p)
{
    if (p->on) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    pthread_mutex_destroy(&p->lock);
    p->on = false;
}
