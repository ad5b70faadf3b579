/* Minimal test harness: each check prints "PASS: name" or "FAIL: name — why"; tests/run.sh counts them. */
#ifndef T_H
#define T_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

static inline void t_result(int ok, const char *name, const char *fmt, ...) {
    printf("%s: %s", ok ? "PASS" : "FAIL", name);
    if (!ok && fmt) {
        va_list ap;
        va_start(ap, fmt);
        printf(" — ");
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
    fflush(stdout);
    if (!ok) t_failures++;
}

/* T_CHECK(cond, name, fmt, ...): one named assertion. */
#define T_CHECK(cond, name, ...) t_result((cond) ? 1 : 0, (name), __VA_ARGS__)

/* Directory of unpacked fixtures (set by tests/run.sh). */
static inline const char *t_data(void) {
    const char *d = getenv("GC_TESTDATA");
    return d ? d : "build/testdata";
}

static inline int t_exit(void) { return t_failures ? 1 : 0; }
#endif
