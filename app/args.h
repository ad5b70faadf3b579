/* args — the small command-line helpers the two programs share. */
#ifndef ARGS_H
#define ARGS_H
#include <stddef.h>
#include <stdint.h>

/* Value of the first "--name VALUE" in argv[1..], or NULL. */
const char *args_get(int argc, char **argv, const char *name);
/* Value of the k-th occurrence (0-based) of "--name VALUE", or NULL. */
const char *args_get_nth(int argc, char **argv, const char *name, int k);
int args_has(int argc, char **argv, const char *name);
/* Checks that every argv[1..] is one of the listed options (NULL-terminated; names ending in '='
 * take a value).  On failure fills err with the offending argument. */
int args_check(int argc, char **argv, const char *const *known, char *err, size_t errlen);
/* Parses "1,2,3" (decimal, no spaces) into a malloc'd array. */
int args_ids(const char *s, int32_t **ids, size_t *n, char *err, size_t errlen);
/* Parses a whole decimal integer / float; returns -1 on junk ("12abc") or overflow. */
int args_long(const char *s, long *out);
int args_double(const char *s, double *out);
/* Writes "PROG: message" and a newline to stderr, with control characters (other than tab) shown as
 * \xNN: messages quote file contents, which must never drive the terminal. */
void args_complain(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
