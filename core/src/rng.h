/* rng.h — splitmix64, the one seedable generator of the project's C code (random weights,
 * sampling seeds, the trainer's shuffles): small, and the same stream on every platform. */
#ifndef MLFF_RNG_H
#define MLFF_RNG_H

#include <stdint.h>

static inline uint64_t mlff_splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

#endif
