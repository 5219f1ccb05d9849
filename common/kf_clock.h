/**
 * @file kf_clock.h
 * @brief Clocks: monotonic for durations and deadlines, wall for timestamps.
 */
#ifndef KF_CLOCK_H
#define KF_CLOCK_H

#include <stdint.h>

/** @brief Monotonic microseconds (CLOCK_MONOTONIC); only differences mean anything. */
int64_t kf_clock_mono_us(void);
/** @brief Wall-clock milliseconds since the Unix epoch. */
int64_t kf_clock_wall_ms(void);
/** @brief Sleep, restarting after signals until the time has passed. */
void kf_sleep_ms(int64_t ms);

#endif
