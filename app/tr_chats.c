/* tr_chats.c — where chats live on disk: the chats directory, fresh autosave names, the list of
 * saved chats for /sessions and the newest one for --resume. */
#include "app/tr_int.h"
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdirs(char *path, char *err, size_t errlen) {
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = 0;
        struct stat sb;
        int rc = mkdir(path, 0700);
        if (rc && (errno != EEXIST || stat(path, &sb) || !S_ISDIR(sb.st_mode))) {
            snprintf(err, errlen, "%s: cannot make the directory: %s", path,
                     errno == EEXIST ? "a file is in the way" : strerror(errno));
            *p = c;
            return -1;
        }
        *p = c;
        if (!c) return 0;
    }
}

int tr_chats_dir(char *out, size_t outlen, int create, char *err, size_t errlen) {
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    /* the XDG spec says a relative XDG_DATA_HOME is to be ignored */
    if (xdg && xdg[0] == '/') n = snprintf(out, outlen, "%s/gemmachat/chats", xdg);
    else if (home && home[0] == '/') n = snprintf(out, outlen, "%s/.local/share/gemmachat/chats", home);
    else {
        snprintf(err, errlen, "no place for chats: neither XDG_DATA_HOME nor HOME is an absolute path");
        return -1;
    }
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(err, errlen, "the chats directory path is too long");
        return -1;
    }
    return create ? mkdirs(out, err, errlen) : 0;
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

int tr_autosave_path(const char *dir, time_t now, char *out, size_t outlen, char *err, size_t errlen) {
    struct tm tm;
    char stamp[32], journal[4200];
    if (!localtime_r(&now, &tm) || !strftime(stamp, sizeof stamp, "chat-%Y%m%d-%H%M%S", &tm)) {
        snprintf(err, errlen, "cannot format the time for an autosave name");
        return -1;
    }
    for (int k = 1; k < 1000; k++) {
        char suffix[8] = "";
        if (k > 1) snprintf(suffix, sizeof suffix, "-%d", k);
        int n = snprintf(out, outlen, "%s/%s%s.json", dir, stamp, suffix);
        if (n < 0 || (size_t)n >= outlen || (size_t)n + 9 > sizeof journal) {
            snprintf(err, errlen, "%s: the directory name is too long", dir);
            return -1;
        }
        snprintf(journal, sizeof journal, "%s.journal", out);
        if (!exists(out) && !exists(journal)) return 0;
    }
    snprintf(err, errlen, "%s: no free autosave name for %s", dir, stamp);
    return -1;
}

static time_t mtime_of(const char *path) {
    struct stat sb;
    return stat(path, &sb) ? 0 : sb.st_mtime;
}

/* The *.json files of dir with their times (first and turns left empty); a missing dir lists nothing. */
static int scan(const char *dir, tr_session **out, size_t *n, char *err, size_t errlen) {
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        struct stat sb;
        if (e->d_name[0] == '.' || l <= 5 || strcmp(e->d_name + l - 5, ".json") || l - 5 >= sizeof(*out)->name)
            continue;
        if (tr_grow(out, &cap, *n + 1, sizeof **out)) {
            snprintf(err, errlen, "%s: out of memory", dir);
            closedir(d);
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        tr_session *s = &(*out)[*n];
        memset(s, 0, sizeof *s);
        int pn = snprintf(s->path, sizeof s->path, "%s/%s", dir, e->d_name);
        if (pn < 0 || (size_t)pn >= sizeof s->path - 8 || stat(s->path, &sb) || !S_ISREG(sb.st_mode)) continue;
        memcpy(s->name, e->d_name, l - 5);
        char journal[sizeof s->path + 8];
        snprintf(journal, sizeof journal, "%s.journal", s->path);
        time_t jt = mtime_of(journal);
        s->mtime = jt > sb.st_mtime ? jt : sb.st_mtime;
        (*n)++;
    }
    closedir(d);
    return 0;
}

/* The first line of text, cut to fit cap with "…", with control characters and bad bytes shown
 * harmlessly (a listing must not send escape sequences to the terminal). */
static void first_line(char *out, size_t cap, const char *p, size_t n) {
    size_t o = 0;
    for (size_t i = 0, k; i < n && p[i] != '\n'; i += k) {
        k = tr_utf8_len((const unsigned char *)p + i, n - i);
        if (o + (k ? k : 1) + 4 > cap) {
            memcpy(out + o, "\xe2\x80\xa6", 3), o += 3;
            break;
        }
        if (!k || (unsigned char)p[i] < 0x20 || p[i] == 0x7f) out[o++] = k ? ' ' : '?', k = 1;
        else memcpy(out + o, p + i, k), o += k;
    }
    out[o] = 0;
}

static int newest_first(const void *a, const void *b) {
    const tr_session *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? 1 : -1;
    return strcmp(y->name, x->name);
}

int tr_sessions(const char *dir, tr_session **out, size_t *n, char *err, size_t errlen) {
    if (scan(dir, out, n, err, errlen)) return -1;
    for (size_t i = 0; i < *n; i++) {
        tr_session *s = &(*out)[i];
        tr_transcript *t;
        char e[4600];
        if (tr_load(&t, s->path, e, sizeof e)) {
            size_t pl = strlen(s->path);
            const char *why = strncmp(e, s->path, pl) || strncmp(e + pl, ": ", 2) ? e : e + pl + 2;
            s->turns = -1;
            first_line(s->first, sizeof s->first, why, strlen(why));
            continue;
        }
        for (size_t k = 0; k < t->n; k++) {
            if (t->msgs[k].role != TR_USER) continue;
            if (!s->turns++) first_line(s->first, sizeof s->first, t->msgs[k].text, t->msgs[k].len);
        }
        tr_free(t);
    }
    if (*n) qsort(*out, *n, sizeof **out, newest_first);
    return 0;
}

int tr_last_chat(const char *dir, char *out, size_t outlen, char *err, size_t errlen) {
    tr_session *s;
    size_t n;
    if (scan(dir, &s, &n, err, errlen)) return -1;
    if (!n) {
        free(s);
        return 1;
    }
    qsort(s, n, sizeof *s, newest_first);
    int rc = snprintf(out, outlen, "%s", s[0].path);
    free(s);
    if (rc < 0 || (size_t)rc >= outlen) {
        snprintf(err, errlen, "%s: the path is too long", dir);
        return -1;
    }
    return 0;
}
