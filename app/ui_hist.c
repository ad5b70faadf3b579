/* Input history on disk: one entry per line with newlines and backslashes escaped, so multi-line
 * entries come back whole.  Mode 0600; trimmed to the newest entries when over the caps. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "app/ui.h"

#define ENTRY_MAX (256 * 1024)   /* longer entries are not kept */

int ui_hist_path(char *out, size_t n) {
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int k;
    if (x && *x == '/') k = snprintf(out, n, "%s/gemmachat/history", x);
    else if (home && *home) k = snprintf(out, n, "%s/.local/state/gemmachat/history", home);
    else return -1;
    return k > 0 && (size_t)k < n ? 0 : -1;
}

static int mkdirs(const char *path) {
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *sl = strrchr(d, '/');
    if (!sl || sl == d) return 0;
    *sl = 0;
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(d, 0700) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(d, 0700) && errno != EEXIST ? -1 : 0;
}

static char *escape(const char *s, size_t *len) {
    size_t n = strlen(s);
    char *e = malloc(2 * n + 2);
    if (!e) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') { e[o++] = '\\'; e[o++] = '\\'; }
        else if (s[i] == '\n') { e[o++] = '\\'; e[o++] = 'n'; }
        else if (s[i] == '\r') { e[o++] = '\\'; e[o++] = 'r'; }
        else e[o++] = s[i];
    }
    e[o++] = '\n';
    e[o] = 0;
    *len = o;
    return e;
}

static void unescape(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Rewrites the file with lines[from..n) (already escaped), atomically. */
static int rewrite(const char *path, char **lines, size_t from, size_t n) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    int bad = 0;
    for (size_t i = from; i < n && !bad; i++) {
        bad = write_all(fd, lines[i], strlen(lines[i])) || write_all(fd, "\n", 1);
    }
    bad |= close(fd);
    if (bad || rename(tmp, path)) { unlink(tmp); return -1; }
    return 0;
}

int ui_hist_load(const char *path, void (*add)(void *ud, const char *entry), void *ud, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **lines = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0, bytes = 0;
    ssize_t k;
    int rc = 0;
    while ((k = getline(&line, &lcap, f)) > 0) {
        if (line[k - 1] == '\n') line[--k] = 0;
        if (k == 0 || k > ENTRY_MAX) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **q = realloc(lines, cap * sizeof *q);
            if (!q) { rc = -1; break; }
            lines = q;
        }
        if (!(lines[n] = strdup(line))) { rc = -1; break; }
        bytes += (size_t)k + 1;
        n++;
    }
    free(line);
    fclose(f);
    if (rc) snprintf(err, errlen, "%s: out of memory", path);
    /* keep the newest entries within both caps */
    size_t from = n > UI_HIST_MAX_ENTRIES ? n - UI_HIST_MAX_ENTRIES : 0;
    size_t kept = 0;
    for (size_t i = from; i < n; i++) kept += strlen(lines[i]) + 1;
    while (from < n && kept > UI_HIST_MAX_BYTES) kept -= strlen(lines[from++]) + 1;
    if (!rc && (from > 0 || bytes != kept) && rewrite(path, lines, from, n)) {
        snprintf(err, errlen, "%s: cannot trim: %s", path, strerror(errno));
        rc = -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (i >= from) { unescape(lines[i]); add(ud, lines[i]); }
        free(lines[i]);
    }
    free(lines);
    return rc;
}

int ui_hist_append(const char *path, const char *entry, char *err, size_t errlen) {
    size_t len;
    if (!*entry || strlen(entry) > ENTRY_MAX / 2) return 0;
    char *e = escape(entry, &len);
    if (!e) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    int fd = -1, rc = mkdirs(path);
    if (!rc) fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    /* an existing file made by something else keeps its content but not its looser mode */
    rc = fd < 0 || fchmod(fd, 0600) || write_all(fd, e, len);
    if (fd >= 0 && close(fd)) rc = -1;
    if (rc) snprintf(err, errlen, "%s: %s", path, strerror(errno));
    free(e);
    return rc ? -1 : 0;
}
