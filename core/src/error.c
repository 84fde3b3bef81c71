/* error.c — per-thread last-error message (no global mutable state shared across threads). */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char last_error[1024];

mlff_status mlff_fail(mlff_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

const char *mlff_last_error(void) { return last_error; }

const char *mlff_status_name(mlff_status s) {
  switch (s) {
    case MLFF_OK: return "ok";
    case MLFF_ERR_IO: return "I/O error";
    case MLFF_ERR_FORMAT: return "format error";
    case MLFF_ERR_ARGUMENT: return "invalid argument";
    case MLFF_ERR_NOMEM: return "out of memory";
    case MLFF_ERR_UNSUPPORTED: return "unsupported";
    case MLFF_ERR_DEVICE: return "device error";
  }
  return "unknown status";
}
