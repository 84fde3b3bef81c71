/* The resident GPU step's deal of blocks to elements (cuda/resident_deal.h), on the CPU:
 * every block is used, every element with atoms has a block, the returned load is the true
 * largest one and stays within 2n/nb + 1 where blocks are many, and the cases the host must
 * decline (more elements than blocks, a block left with more atoms than it holds) say so. */
#include "test_util.h"
#include "resident_deal.h" /* cuda/, the include directory CMake sets */

/* the deal's invariants; returns its load */
static int check_deal(const int *count, int ns, int nb) {
  int eb[16], n = 0, present = 0, used = 0, most = 0;
  const int load = mlff_deal_blocks(count, ns, nb, eb);
  for (int e = 0; e < ns; e++) {
    n += count[e];
    present += count[e] > 0;
  }
  if (present > nb) {
    CHECK(load == -1);
    return load;
  }
  for (int e = 0; e < ns; e++) {
    CHECK((count[e] > 0) == (eb[e] > 0)); /* a block for every element with atoms, only those */
    used += eb[e];
    if (count[e]) most = (count[e] + eb[e] - 1) / eb[e] > most ? (count[e] + eb[e] - 1) / eb[e] : most;
  }
  if (n > 0) CHECK(used == nb); /* no block idle */
  CHECK(load == most);
  return load;
}

int main(void) {
  { /* 16 benzenes on an H100's 132 SMs: 66 + 66 blocks, two atoms at most */
    int c[2] = {96, 96}, eb[2];
    CHECK(mlff_deal_blocks(c, 2, 132, eb) == 2);
    CHECK(eb[0] == 66 && eb[1] == 66);
  }
  { /* one atom more than blocks: one block takes two */
    int c[2] = {67, 66};
    CHECK(check_deal(c, 2, 132) == 2);
  }
  { /* a lone atom of a third element still gets its own block */
    int c[3] = {500, 1, 300}, eb[3];
    CHECK(check_deal(c, 3, 132) <= 7);
    mlff_deal_blocks(c, 3, 132, eb);
    CHECK(eb[1] == 1);
  }
  { /* more elements with atoms than blocks: no deal */
    int c[4] = {5, 5, 5, 5};
    CHECK(check_deal(c, 4, 3) == -1);
  }
  { /* a small GPU, many elements with one atom and one with many: the big element is left
     * few blocks, more atoms a block than the kernel holds (the host then declines) */
    int c[16];
    for (int e = 0; e < 15; e++) c[e] = 1;
    c[15] = 113;
    CHECK(check_deal(c, 16, 16) == 113);
  }
  { /* no atoms at all */
    int c[2] = {0, 0};
    CHECK(check_deal(c, 2, 8) == 0);
  }
  /* random systems with n in (nb, 8 nb] on 16 to 160 blocks: the invariants, and a load within
   * 2n/nb + 1 wherever the blocks are at least 4 per element present */
  unsigned rng = 7u;
  for (int trial = 0; trial < 20000; trial++) {
    rng = rng * 1103515245u + 12345u;
    const int ns = 1 + (int)((rng >> 8) % 16);
    rng = rng * 1103515245u + 12345u;
    const int nb = 16 + (int)((rng >> 8) % 145);
    rng = rng * 1103515245u + 12345u;
    const int n = nb + 1 + (int)((rng >> 8) % (7 * nb));
    int c[16] = {0};
    for (int a = 0; a < n; a++) {
      rng = rng * 1103515245u + 12345u;
      /* skewed: element 0 takes about half the atoms */
      const int e = ((rng >> 8) & 1) ? 0 : (int)((rng >> 9) % ns);
      c[e]++;
    }
    int present = 0;
    for (int e = 0; e < ns; e++) present += c[e] > 0;
    const int load = check_deal(c, ns, nb);
    if (nb >= 4 * present) CHECK(load <= 2 * n / nb + 1);
  }
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  else printf("deal: ok\n");
  return test_failures != 0;
}
