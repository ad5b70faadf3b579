/* Themes: data files of "style = colour colour attributes" lines, read on top of built-in defaults
 * that use attributes only (so a missing key, or NO_COLOR, still gives a readable screen). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "app/ui.h"

#ifndef GC_DEMO_DIR
#define GC_DEMO_DIR "models/tiny-chat"
#endif

static const char *const style_names[UI_S_COUNT] = {
    "text", "banner", "user", "model", "thought", "info", "error", "code", "codeblock", "fence",
    "h1", "h2", "h3", "bullet", "quote", "hr", "prompt", "input", "paste", "status", "status_busy",
    "status_warn", "marker", "interrupted",
};

static const char *const colour_names[] = {
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
};

static const struct { const char *name; uint16_t bit; } attr_names[] = {
    {"bold", UI_A_BOLD}, {"dim", UI_A_DIM}, {"italic", UI_A_ITALIC},
    {"underline", UI_A_UNDERLINE}, {"reverse", UI_A_REVERSE}, {"normal", 0},
};

void ui_theme_base(ui_theme *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "monochrome");
    for (int i = 0; i < UI_S_COUNT; i++) t->s[i].fg = t->s[i].bg = -1;
    t->s[UI_S_BANNER].attrs = UI_A_BOLD;
    t->s[UI_S_USER].attrs = UI_A_BOLD;
    t->s[UI_S_THOUGHT].attrs = UI_A_DIM;
    t->s[UI_S_INFO].attrs = UI_A_DIM;
    t->s[UI_S_ERROR].attrs = UI_A_BOLD | UI_A_UNDERLINE;
    t->s[UI_S_CODE].attrs = UI_A_UNDERLINE;
    t->s[UI_S_FENCE].attrs = UI_A_DIM;
    t->s[UI_S_H1].attrs = UI_A_BOLD | UI_A_UNDERLINE;
    t->s[UI_S_H2].attrs = UI_A_BOLD;
    t->s[UI_S_H3].attrs = UI_A_BOLD;
    t->s[UI_S_BULLET].attrs = UI_A_BOLD;
    t->s[UI_S_QUOTE].attrs = UI_A_ITALIC;
    t->s[UI_S_HR].attrs = UI_A_DIM;
    t->s[UI_S_PROMPT].attrs = UI_A_BOLD;
    t->s[UI_S_PASTE].attrs = UI_A_REVERSE;
    t->s[UI_S_STATUS].attrs = UI_A_REVERSE;
    t->s[UI_S_STATUS_BUSY].attrs = UI_A_REVERSE | UI_A_BOLD;
    t->s[UI_S_STATUS_WARN].attrs = UI_A_REVERSE | UI_A_UNDERLINE;
    t->s[UI_S_MARKER].attrs = UI_A_REVERSE | UI_A_BOLD;
    t->s[UI_S_INTERRUPTED].attrs = UI_A_DIM | UI_A_ITALIC;
}

/* "default", a name, "bright-NAME" or 0..255; -2 if the word is not a colour. */
static int parse_colour(const char *w) {
    if (!strcmp(w, "default")) return -1;
    int bright = !strncmp(w, "bright-", 7);
    const char *n = bright ? w + 7 : w;
    for (int i = 0; i < 8; i++)
        if (!strcmp(n, colour_names[i])) return i + (bright ? 8 : 0);
    if (!bright && isdigit((unsigned char)*w)) {
        char *e;
        long v = strtol(w, &e, 10);
        if (!*e && v >= 0 && v <= 255) return (int)v;
    }
    return -2;
}

static int parse_line(ui_theme *t, char *line, const char *file, int lineno, char *err, size_t errlen) {
    char *h = strchr(line, '#');
    if (h) *h = 0;
    char *eq = strchr(line, '=');
    char *k = line;
    while (isspace((unsigned char)*k)) k++;
    if (!*k) return 0;
    if (!eq) {
        snprintf(err, errlen, "%s:%d: expected 'style = colours attributes'", file, lineno);
        return -1;
    }
    *eq = 0;
    char *ke = eq;
    while (ke > k && isspace((unsigned char)ke[-1])) *--ke = 0;
    if (!strcmp(k, "name")) {
        char *v = eq + 1;
        while (isspace((unsigned char)*v)) v++;
        size_t n = strlen(v);
        while (n && isspace((unsigned char)v[n - 1])) v[--n] = 0;
        snprintf(t->name, sizeof t->name, "%s", v);
        return 0;
    }
    int si = -1;
    for (int i = 0; i < UI_S_COUNT; i++) if (!strcmp(k, style_names[i])) si = i;
    if (si < 0) {
        snprintf(err, errlen, "%s:%d: unknown style '%s'", file, lineno, k);
        return -1;
    }
    ui_style_def d = {-1, -1, 0};
    int ncol = 0;
    char *save = NULL;
    for (char *w = strtok_r(eq + 1, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
        int c = parse_colour(w);
        if (c != -2) {
            if (ncol == 2) {
                snprintf(err, errlen, "%s:%d: more than two colours for '%s'", file, lineno, k);
                return -1;
            }
            if (ncol++ == 0) d.fg = (int16_t)c; else d.bg = (int16_t)c;
            continue;
        }
        size_t a = 0, na = sizeof attr_names / sizeof *attr_names;
        while (a < na && strcmp(w, attr_names[a].name)) a++;
        if (a == na) {
            snprintf(err, errlen, "%s:%d: '%s' is neither a colour nor an attribute", file, lineno, w);
            return -1;
        }
        d.attrs |= attr_names[a].bit;
    }
    t->s[si] = d;
    return 0;
}

int ui_theme_parse(ui_theme *t, const char *text, size_t len, const char *file, char *err, size_t errlen) {
    char line[512];
    int lineno = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        lineno++;
        if (n >= sizeof line) {
            snprintf(err, errlen, "%s:%d: line too long", file, lineno);
            return -1;
        }
        memcpy(line, text + i, n);
        line[n] = 0;
        if (memchr(line, 0, n)) {
            snprintf(err, errlen, "%s:%d: not a text file", file, lineno);
            return -1;
        }
        if (parse_line(t, line, file, lineno, err, errlen)) return -1;
        i += n + 1;
    }
    return 0;
}

/* Theme folders, most specific first: the user's, then the one beside the program, then the source
 * tree's (the demo model's grandparent). */
static int theme_dirs(char dirs[3][4096]) {
    int n = 0;
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (x && *x) snprintf(dirs[n++], 4096, "%s/gemmachat/themes", x);
    else if (home && *home) snprintf(dirs[n++], 4096, "%s/.config/gemmachat/themes", home);
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *sl = strrchr(exe, '/');
        if (sl) { *sl = 0; snprintf(dirs[n++], 4096, "%.4000s/../themes", exe); }
    }
    snprintf(dirs[n++], 4096, "%s/../../themes", GC_DEMO_DIR);
    return n;
}

static int read_file(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    int bad = !buf || ferror(f) || !feof(f);
    fclose(f);
    if (bad) { free(buf); errno = EFBIG; return -1; }
    *text = buf;
    *len = n;
    return 0;
}

int ui_theme_load(ui_theme *t, const char *name, char *err, size_t errlen) {
    char path[4200], dirs[3][4096];
    char *text = NULL;
    size_t len = 0;
    int nd = theme_dirs(dirs), found = 0;
    if (strchr(name, '/')) {
        snprintf(path, sizeof path, "%s", name);
        found = !read_file(path, &text, &len);
    } else if (!*name || strchr(name, '.')) {
        snprintf(err, errlen, "theme '%s': not a theme name", name);
        return -1;
    }
    for (int i = 0; !found && !strchr(name, '/') && i < nd; i++) {
        snprintf(path, sizeof path, "%.4000s/%.100s.theme", dirs[i], name);
        found = !read_file(path, &text, &len);
    }
    if (!found && strchr(name, '/')) {
        snprintf(err, errlen, "theme '%s': %s", name, strerror(errno));
        return -1;
    }
    if (!found) {
        char names[512];
        ui_theme_list(names, sizeof names);
        snprintf(err, errlen, "theme '%s' not found (themes: %s)", name, *names ? names : "none installed");
        return -1;
    }
    ui_theme nt;
    ui_theme_base(&nt);
    snprintf(nt.name, sizeof nt.name, "%s", name);
    int rc = ui_theme_parse(&nt, text, len, path, err, errlen);
    free(text);
    if (rc) return -1;
    *t = nt;
    return 0;
}

/* Without colour, what stood out by its background is shown in reverse video instead. */
void ui_theme_strip_colour(ui_theme *t) {
    for (int i = 0; i < UI_S_COUNT; i++) {
        if (t->s[i].bg > 0) t->s[i].attrs |= UI_A_REVERSE;   /* a black background is no highlight */
        t->s[i].fg = t->s[i].bg = -1;
    }
}

int ui_theme_colour_wanted(void) {
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc) return 0;
    return !(term && !strcmp(term, "dumb"));
}

int ui_theme_list(char *out, size_t n) {
    char dirs[3][4096];
    int nd = theme_dirs(dirs);
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < nd; i++) {
        DIR *dir = opendir(dirs[i]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            size_t l = strlen(e->d_name);
            if (l <= 6 || strcmp(e->d_name + l - 6, ".theme")) continue;
            char nm[256];
            snprintf(nm, sizeof nm, "%.*s", (int)(l - 6), e->d_name);
            const char *p = out;   /* skip names already listed from an earlier folder */
            int dup = 0;
            while (*p && !dup) {
                size_t wl = strcspn(p, " ");
                dup = wl == strlen(nm) && !strncmp(p, nm, wl);
                p += wl + (p[wl] == ' ');
            }
            if (dup || used + strlen(nm) + 2 > n) continue;
            used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "", nm);
        }
        closedir(dir);
    }
    return 0;
}
