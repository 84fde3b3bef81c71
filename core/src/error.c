/* error.c — per-thread last-error message (no global mutable state shared across threads). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[1024];

mlff_status mlff_set_error(mlff_status s, const char *fmt, ...) {
  /* Through a copy: the message may quote the last error itself (mlff_last_error()). */
  char buf[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memcpy(last_error, buf, sizeof buf);
  return s;
}

const char *mlff_last_error(void) { return last_error; }

const char *mlff_status_name(mlff_status s) {
  switch (s) {
    case MLFF_OK:
      return "ok";
    case MLFF_ERR_IO:
      return "I/O error";
    case MLFF_ERR_FORMAT:
      return "format error";
    case MLFF_ERR_ARGUMENT:
      return "invalid argument";
    case MLFF_ERR_NOMEM:
      return "out of memory";
    case MLFF_ERR_UNSUPPORTED:
      return "unsupported";
    case MLFF_ERR_DEVICE:
      return "device error";
    case MLFF_ERR_NUMERIC:
      return "non-finite result";
  }
  return "unknown status";
}
