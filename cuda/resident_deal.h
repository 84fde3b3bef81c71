/* resident_deal.h — how the resident GPU step deals its blocks out to the elements when a
 * system has more atoms than blocks: each block keeps one element's weights in shared memory,
 * so it takes atoms of that element only. Plain C, shared by the kernel (every block computes
 * the same deal) and the host (which declines the resident step where a block would take more
 * atoms than it holds) and unit-tested on the CPU. */
#ifndef MLFF_RESIDENT_DEAL_H
#define MLFF_RESIDENT_DEAL_H

#ifdef __CUDACC__
#define MLFF_HOST_DEVICE __host__ __device__
#else
#define MLFF_HOST_DEVICE
#endif

/* Blocks per element, eb[e], for count[e] atoms of each of n_species elements on nb blocks:
 * floor(nb c_e / n), at least one for an element that has atoms; then, where that is more than
 * nb (many elements with few atoms), one off the element with the most blocks at a time while
 * it has more than one; then the blocks left over, one at a time, to the element with the most
 * atoms per block. Returns the most atoms a block takes (ceil(c_e / eb[e]) at most), or -1
 * where the elements that have atoms outnumber the blocks (no deal gives each a block). */
static inline MLFF_HOST_DEVICE int mlff_deal_blocks(const int *count, int n_species, int nb, int *eb) {
  int n = 0, used = 0, present = 0;
  for (int e = 0; e < n_species; e++) {
    n += count[e];
    present += count[e] > 0;
  }
  if (present > nb) return -1;
  for (int e = 0; e < n_species; e++) {
    const long long share = n > 0 ? (long long)nb * count[e] / n : 0;
    eb[e] = count[e] ? (share > 1 ? (int)share : 1) : 0;
    used += eb[e];
  }
  while (used > nb) { /* some element has two or more blocks: present <= nb */
    int w = 0;
    for (int e = 1; e < n_species; e++) w = eb[e] > eb[w] ? e : w;
    eb[w]--;
    used--;
  }
  while (used < nb) {
    int w = -1;
    for (int e = 0; e < n_species; e++)
      if (count[e] && (w < 0 || (long long)count[e] * eb[w] > (long long)count[w] * eb[e])) w = e;
    if (w < 0) break; /* no atoms at all */
    eb[w]++;
    used++;
  }
  int most = 0;
  for (int e = 0; e < n_species; e++)
    if (count[e]) {
      const int load = (count[e] + eb[e] - 1) / eb[e];
      most = load > most ? load : most;
    }
  return most;
}

#endif
