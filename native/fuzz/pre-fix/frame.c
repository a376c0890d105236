/* Clocks and the 16-byte frame header (big-endian):
 * type u8 | flags u8 | length u16 | seq u32 | timeUs u64. See src/protocol/frame.ts. */
#include <time.h>

#include "holder.h"

static uint64_t clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t now_mono_us(void) { return clock_us(CLOCK_MONOTONIC); }
uint64_t now_real_us(void) { return clock_us(CLOCK_REALTIME); }

void frame_header_write(uint8_t *p, uint8_t type, uint16_t length, uint32_t seq, uint64_t time_us) {
  p[0] = type;
  p[1] = 0;
  p[2] = (uint8_t)(length >> 8);
  p[3] = (uint8_t)length;
  for (int i = 0; i < 4; i++) p[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) p[8 + i] = (uint8_t)(time_us >> (56 - 8 * i));
}

uint16_t frame_length(const uint8_t *hdr) { return (uint16_t)((hdr[2] << 8) | hdr[3]); }

uint32_t frame_seq(const uint8_t *hdr) {
  return ((uint32_t)hdr[4] << 24) | ((uint32_t)hdr[5] << 16) | ((uint32_t)hdr[6] << 8) | hdr[7];
}

uint64_t frame_time_us(const uint8_t *hdr) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | hdr[8 + i];
  return v;
}
