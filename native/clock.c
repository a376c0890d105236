/* The two clocks a holder reads, in µs: CLOCK_MONOTONIC for durations measured in
 * one process, CLOCK_REALTIME for stamps that cross processes (a frame's timeUs). */
#include <time.h>

#include "holder.h"

static uint64_t read_clock(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_mono_us(void) { return read_clock(CLOCK_MONOTONIC); }
uint64_t clock_real_us(void) { return read_clock(CLOCK_REALTIME); }
