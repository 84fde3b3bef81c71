/* test_summary.c — reading the split back from a model's training_summary
 * (mlff_training_split): lists as mlff_train writes them, the aliases older files use, a model
 * with no split, and every malformed record refused with a message that says what is wrong. */
#include "../unit/test_util.h"

static void expect_split(mlff_model *m, const char *summary, const char *part, int recorded, int n,
                         const int *want) {
  CHECK_OK(mlff_model_set_attr(m, "training_summary", summary));
  int rec = -1, k = -1, *idx = NULL;
  CHECK_OK(mlff_training_split(m, part, &rec, &idx, &k));
  CHECK(rec == recorded);
  CHECK(k == n);
  for (int i = 0; i < n && i < k; i++) CHECK(idx[i] == want[i]);
  free(idx);
}

static void expect_error(mlff_model *m, const char *summary, const char *part, mlff_status want,
                         const char *needle) {
  if (summary) CHECK_OK(mlff_model_set_attr(m, "training_summary", summary));
  int rec = -1, k = -1, *idx = (int *)&rec;
  mlff_status st = mlff_training_split(m, part, &rec, &idx, &k);
  if (st != want || !strstr(mlff_last_error(), needle)) {
    fprintf(stderr, "summary %s, part %s: status %d, message \"%s\"; wanted %d and \"%s\"\n",
            summary ? summary : "(unchanged)", part, st, mlff_last_error(), want, needle);
    test_failures++;
  }
  CHECK(rec == 0 && idx == NULL && k == 0); /* nothing half-filled on failure */
}

int main(void) {
  mlff_model *m = make_model(CH, 3);
  int rec = -1, k = -1, *idx = NULL;
  CHECK_OK(mlff_training_split(m, "test", &rec, &idx, &k)); /* no summary at all */
  CHECK(rec == 0 && k == 0 && idx == NULL);

  const char *full = "{\"options\":{\"seed\":1},\"split\":{\"train\":[3, 1,4],\"valid\":[],"
                     "\"test\":[10,11]},\"epochs\":3}";
  int train[3] = {3, 1, 4}, test[2] = {10, 11};
  expect_split(m, full, "train", 1, 3, train);
  expect_split(m, full, "valid", 1, 0, NULL);
  expect_split(m, full, "test", 1, 2, test);
  expect_split(m, "{\"split\":{\"train\":[],\"validation\":[3,1,4],\"test\":[]}}", "valid", 1, 3,
               train);
  expect_split(m, "{\"epochs\":3}", "test", 0, 0, NULL);

  expect_error(m, "{\"split\":[1,2]}", "test", MLFF_ERR_FORMAT, "\"split\" that is not an object");
  expect_error(m, "{\"split\":{\"test\":[1,2]", "test", MLFF_ERR_FORMAT,
               "not valid JSON (unbalanced \"split\")");
  expect_error(m, "{\"split\":{\"train\":[1]}}", "test", MLFF_ERR_FORMAT, "has no \"test\" list");
  expect_error(m, "{\"split\":{\"test\":[1,\"a\"]}}", "test", MLFF_ERR_FORMAT,
               "\"test\" entry of the split in the model's training_summary is not a list");
  expect_error(m, "{\"split\":{\"test\":[-1]}}", "test", MLFF_ERR_FORMAT,
               "not a list of structure");
  expect_error(m, NULL, "everything", MLFF_ERR_ARGUMENT, "part must be \"train\", \"valid\" or");
  mlff_model_free(m);
  if (!test_failures) printf("test_summary: all checks passed\n");
  return test_failures != 0;
}
