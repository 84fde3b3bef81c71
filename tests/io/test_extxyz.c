/* test_extxyz.c — extended XYZ as ASE writes it and plain XYZ are read exactly; bad files are
 * refused naming the file and the line; frames map onto a model's species, and an element the
 * model lacks is named. Usage: test_extxyz TMPDIR */
#include <math.h>

#include "io_test.h"

static const char *dir;

static const char *file_with(const char *name, const char *text, char *buf, size_t size) {
  tmp_path(buf, size, dir, name);
  write_text(buf, text);
  return buf;
}

static void test_ase_frames(void) {
  char p[512];
  /* frame 1: periodic in x, y only, with forces and energy and keys we ignore; CRLF endings.
   * frame 2: open (no Lattice), atomic numbers in an extra integer column, "key = value". */
  file_with("ase.extxyz",
            "3\r\n"
            "Lattice=\"10.0 0.0 0.0 0.0 11.0 0.0 0.5 0.0 12.0\" "
            "Properties=species:S:1:pos:R:3:forces:R:3 energy=-76.5 pbc=\"T T F\" "
            "stress=\"1 0 0 0 1 0 0 0 1\" config_type=water free_energy=-76.6 is_md\r\n"
            "O 0.0 0.0 0.1 0.01 0.02 0.03\r\n"
            "H 0.75 0.0 -0.5 -0.1 0 0\r\n"
            "H -0.75 0.0 -0.5 0.1 0 1e-3\r\n"
            "2\n"
            "Properties=species:S:1:pos:R:3:numbers:I:1 energy = -1.25e+01 comment=\"a b=c\"\n"
            "C 0 0 0 6\n"
            "C 1.4 0 0 6\n"
            "\n",
            p, sizeof p);
  mlff_frame *fr;
  int n;
  CHECK_OK(mlff_read_extxyz(p, &fr, &n));
  CHECK(n == 2);
  const mlff_frame *a = &fr[0], *b = &fr[1];
  CHECK(a->n_atoms == 3 && a->atomic_numbers[0] == 8 && a->atomic_numbers[2] == 1);
  CHECK(a->has_cell && a->cell[0] == 10.0 && a->cell[4] == 11.0 && a->cell[6] == 0.5 &&
        a->cell[8] == 12.0);
  CHECK(a->pbc[0] == 1 && a->pbc[1] == 1 && a->pbc[2] == 0);
  CHECK(a->has_energy && a->energy == -76.5);
  CHECK(a->has_forces && a->forces[2] == 0.03 && a->forces[3] == -0.1 && a->forces[8] == 1e-3);
  CHECK(a->positions[2] == 0.1 && a->positions[3] == 0.75 && a->positions[8] == -0.5);
  CHECK(b->n_atoms == 2 && b->atomic_numbers[1] == 6 && b->positions[3] == 1.4);
  CHECK(!b->has_cell && !b->pbc[0] && !b->pbc[1] && !b->pbc[2]);
  CHECK(b->has_energy && b->energy == -12.5 && !b->has_forces && b->forces == NULL);

  /* species of a model, and the structure view */
  const char *el[] = {"H", "C", "O"};
  int hidden[] = {4};
  mlff_model_spec spec = {.n_elements = 3, .elements = el, .n_hidden = 1, .hidden = hidden};
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  int sp[3];
  CHECK_OK(mlff_frame_species(m, a, sp));
  CHECK(sp[0] == 2 && sp[1] == 0 && sp[2] == 0);
  mlff_structure s = mlff_frame_structure(a, sp);
  CHECK(s.n_atoms == 3 && s.positions == a->positions && s.species == sp && s.cell == a->cell);
  CHECK(s.pbc[0] && s.pbc[1] && !s.pbc[2]);
  s = mlff_frame_structure(b, sp);
  CHECK(s.cell == NULL && !s.pbc[0]);
  mlff_model_free(m);

  /* a model without O: the message names the element and lists the model's elements */
  const char *el2[] = {"H", "C"};
  spec.n_elements = 2;
  spec.elements = el2;
  CHECK_OK(mlff_model_create(&spec, &m));
  CHECK_FAILS(mlff_frame_species(m, a, sp), MLFF_ERR_ARGUMENT, "'O'", "atom 1", "H, C");
  mlff_model_free(m);
  mlff_frames_free(fr, n);
}

static void test_plain_xyz(void) {
  char p[512];
  file_with("plain.xyz",
            "2\n"
            "hydrogen molecule, written by hand\n"
            "H 0.0 0.0 0.0\n"
            "h 0.0 0.0 0.74 extra columns are fine in plain XYZ\n",
            p, sizeof p);
  mlff_frame *fr;
  int n;
  CHECK_OK(mlff_read_extxyz(p, &fr, &n));
  CHECK(n == 1 && fr[0].n_atoms == 2 && fr[0].atomic_numbers[1] == 1);
  CHECK(fr[0].positions[5] == 0.74 && !fr[0].has_cell && !fr[0].has_energy && !fr[0].has_forces);
  CHECK(!fr[0].pbc[0] && !fr[0].pbc[1] && !fr[0].pbc[2]);
  mlff_frames_free(fr, n);

  /* Lattice without pbc means periodic along all three axes (ASE's convention) */
  file_with("lattice.extxyz",
            "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3\nAr 1 1 1\n", p,
            sizeof p);
  CHECK_OK(mlff_read_extxyz(p, &fr, &n));
  CHECK(n == 1 && fr[0].has_cell && fr[0].pbc[0] && fr[0].pbc[1] && fr[0].pbc[2]);
  CHECK(fr[0].atomic_numbers[0] == 18);
  mlff_frames_free(fr, n);
}

static void test_bad_inputs(void) {
  char p[512];
  mlff_frame *fr = (mlff_frame *)&fr; /* must be reset to NULL on failure */
  int n = -1;
  const char *props = "Properties=species:S:1:pos:R:3:forces:R:3\n";
  char text[1024];

  tmp_path(p, sizeof p, dir, "no-such.extxyz");
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_IO, p, "No such file or directory");
  CHECK(fr == NULL && n == 0);

  snprintf(text, sizeof text, "2\n%sH 0 0 0 0 0 0\nXx 1 0 0 0 0 0\n", props);
  file_with("unknown.extxyz", text, p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 4", "unknown element 'Xx'");

  /* truncated: a second frame announces 3 atoms and ends after 1 */
  snprintf(text, sizeof text, "1\n%sH 0 0 0 0 0 0\n3\n%sH 0 0 0 0 0 0\n", props, props);
  file_with("truncated.extxyz", text, p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 7", "frame 1",
              "truncated");
  CHECK(fr == NULL && n == 0);

  file_with("truncated2.xyz", "4\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "truncated");

  snprintf(text, sizeof text, "2\n%sH 0 0 0 0 0 0\nC 0 nan 0 0 0 0\n", props);
  file_with("nan.extxyz", text, p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 4", "coordinate y",
              "'nan'", "not a finite number");

  snprintf(text, sizeof text, "1\n%sH 0 0 0 0 inf 0\n", props);
  file_with("inf_force.extxyz", text, p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 3", "force y");

  file_with("count.xyz", "two\ncomment\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 1", "atom count of frame 0", "'two'");

  file_with("columns.extxyz", "1\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0\n", p,
            sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 3", "4 columns",
              "expected 7");

  file_with("nopos.extxyz", "1\nProperties=species:S:1:positions:R:3\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "'pos'");

  file_with("lattice.extxyz", "1\nLattice=\"3 0 0 0 3 0\"\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "Lattice", "9 numbers");

  file_with("quote.extxyz", "1\nLattice=\"3 0 0 0 3 0 0 0 3\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "unclosed");

  file_with("pbc.extxyz", "1\npbc=\"T T T\"\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "no Lattice");

  file_with("energy.extxyz", "1\nenergy=abc\nH 0 0 0\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "line 2", "energy=abc");

  file_with("empty.xyz", "\n\n", p, sizeof p);
  CHECK_FAILS(mlff_read_extxyz(p, &fr, &n), MLFF_ERR_FORMAT, p, "no frames");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  test_ase_frames();
  test_plain_xyz();
  test_bad_inputs();
  printf("test_extxyz: ok\n");
  return 0;
}
