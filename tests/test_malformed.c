/* The malformed-file corpus (tests/malformed/KIND/FILE, listed in tests/malformed/expect.tsv with a
 * phrase the error must contain): each file goes through the loader a user's file would meet, which
 * must refuse it with one line that names the file and the problem, and hand nothing back.
 * Damaged journals (KIND journal) are the exception: a journal only adds to its snapshot
 * (tests/malformed/journal-snapshot.json), so the load must succeed, with a note naming the journal
 * and the problem when the phrase is not empty. */
#include "app/tr.h"
#include "model/cfg.h"
#include "model/st.h"
#include "tests/t.h"
#include "tokenizer/tok.h"
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[512];

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out)) ok = 0;
    return ok ? 0 : -1;
}

/* Loads path as kind; returns the loader's result and the file its message must name in *named. */
static int load(const char *kind, const char *path, char *named, size_t namedlen, char *err, size_t errlen) {
    int rc = -1;
    snprintf(named, namedlen, "%s", path);
    if (!strcmp(kind, "st")) {
        st_archive *a;
        rc = st_open_file(&a, path, err, errlen);
        if (rc < 0 && a) rc = 0;   /* a failure must hand nothing back */
        st_free(a);
    } else if (!strcmp(kind, "tokenizer")) {
        tok_tokenizer *t;
        rc = tok_load(&t, path, err, errlen);
        if (rc < 0 && t) rc = 0;
        tok_free(t);
    } else if (!strcmp(kind, "transcript")) {
        tr_transcript *t;
        rc = tr_load(&t, path, err, errlen);
        if (rc < 0 && t) rc = 0;
        tr_free(t);
    } else if (!strcmp(kind, "config") || !strcmp(kind, "generation")) {
        /* a model directory: the file as config.json, or a good config.json and the file beside it */
        char cfgp[700], genp[700], good[4096];
        cfg_model c;
        snprintf(cfgp, sizeof cfgp, "%s/config.json", scratch);
        snprintf(genp, sizeof genp, "%s/generation_config.json", scratch);
        snprintf(good, sizeof good, "%s/models/tiny-e/config.json", t_data());
        unlink(genp);
        int gen = !strcmp(kind, "generation");
        if (copy_file(gen ? good : path, cfgp) < 0 || (gen && copy_file(path, genp) < 0)) {
            snprintf(err, errlen, "cannot copy %.200s into %.200s", path, scratch);
            return 0;
        }
        snprintf(named, namedlen, "%s", gen ? genp : cfgp);
        rc = cfg_load(&c, scratch, err, errlen);
    } else {
        snprintf(err, errlen, "unknown kind %s", kind);
        return 0;
    }
    return rc;
}

/* A damaged journal beside its snapshot: the conversation still loads. */
static void check_journal(const char *root, const char *path, const char *phrase, const char *name) {
    char snap[700], journal[800], base[4096], err[2048] = "";
    snprintf(snap, sizeof snap, "%s/chat.json", scratch);
    snprintf(journal, sizeof journal, "%s.journal", snap);
    snprintf(base, sizeof base, "%s/tests/malformed/journal-snapshot.json", root);
    tr_transcript *t = NULL;
    int rc = copy_file(base, snap) || copy_file(path, journal) ? -2 : tr_load(&t, snap, err, sizeof err);
    const char *note = t ? tr_load_note(t) : "";
    if (getenv("MALFORMED_SHOW")) printf("  %s: rc %d, note: %s\n", path, rc, note);
    T_CHECK(rc == 0 && tr_count(t) > 0 && (!*phrase || (strstr(note, phrase) && strstr(note, journal))), name,
            "rc %d (%s), %zu messages, note '%s'", rc, err, t ? tr_count(t) : 0, note);
    tr_free(t);
    unlink(snap);
    unlink(journal);
}

/* One line of expect.tsv: "KIND/FILE<TAB>phrase". */
static void check(const char *root, char *line, int *listed) {
    char *tab = strchr(line, '\t'), *slash = strchr(line, '/');
    if (!tab || !slash || slash > tab) {
        T_CHECK(0, "malformed: expect.tsv line", "cannot parse '%s'", line);
        return;
    }
    *tab = *slash = 0;
    const char *kind = line, *file = slash + 1, *phrase = tab + 1;
    char path[4096], named[4096], err[2048] = "", name[2048];
    snprintf(path, sizeof path, "%s/tests/malformed/%s/%s", root, kind, file);
    snprintf(name, sizeof name, "malformed %s/%s is refused: %s", kind, file, *phrase ? phrase : "(any reason)");
    if (!strcmp(kind, "journal")) {
        snprintf(name, sizeof name, "damaged journal %s: the conversation loads%s%s", file, *phrase ? ", noting: " : "",
                 phrase);
        check_journal(root, path, phrase, name);
        (*listed)++;
        return;
    }
    int rc = load(kind, path, named, sizeof named, err, sizeof err);
    if (getenv("MALFORMED_SHOW")) printf("  %s/%s: %s\n", kind, file, err);
    T_CHECK(rc < 0 && err[0] && strstr(err, named) && !strchr(err, '\n') && strstr(err, phrase), name,
            "rc %d, message '%s' (must name %s)", rc, err, named);
    (*listed)++;
}

/* Every file of the corpus is listed (so none is silently skipped). */
static int count_files(const char *root) {
    static const char *const kinds[] = {"st", "config", "generation", "tokenizer", "transcript", "journal"};
    int n = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/malformed/%s", root, kinds[k]);
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
        if (d) closedir(d);
    }
    return n;
}

int main(void) {
    const char *root = getenv("GC_ROOT");
    if (!root) root = ".";
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/gc-malformed-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char list[4096], line[1024];
    snprintf(list, sizeof list, "%s/tests/malformed/expect.tsv", root);
    FILE *f = fopen(list, "r");
    int listed = 0;
    if (!mkdtemp(scratch) || !f) {
        T_CHECK(0, "malformed: setup", "cannot make %s or open %s", scratch, list);
        return t_exit();
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] && line[0] != '#') check(root, line, &listed);
    }
    fclose(f);
    int files = count_files(root);
    T_CHECK(listed == files && listed >= 60, "malformed: every file of the corpus is listed in expect.tsv",
            "%d listed, %d files", listed, files);
    char p[700];
    snprintf(p, sizeof p, "%s/config.json", scratch);
    unlink(p);
    snprintf(p, sizeof p, "%s/generation_config.json", scratch);
    unlink(p);
    rmdir(scratch);
    return t_exit();
}
