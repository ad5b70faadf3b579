/* Replays every fuzz target (tests/fuzz/fuzz_*.c, built here without libFuzzer) on its seed corpus
 * and its regressions, so `make test` and `make asan` check the fuzz invariants on known inputs.
 * Each target runs in a child process: an input that crashes it fails that input alone. */
#define FUZZ_REPLAY
#include "tests/fuzz/fuzz_cfg.c"
#include "tests/fuzz/fuzz_cmd.c"
#include "tests/fuzz/fuzz_st.c"
#include "tests/fuzz/fuzz_tok_decode.c"
#include "tests/fuzz/fuzz_tok_encode.c"
#include "tests/fuzz/fuzz_tok_load.c"
#include "tests/fuzz/fuzz_tr.c"
#include "tests/t.h"
#include <dirent.h>
#include <sys/wait.h>

typedef struct {
    const char *name;
    int (*run)(const uint8_t *, size_t);
} target;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The files of dir, sorted (malloc'd names); 0 when the directory does not exist. */
static size_t list(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    size_t n = 0, cap = 0;
    *out = NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) *out = realloc(*out, (cap = cap ? 2 * cap : 64) * sizeof **out);
        (*out)[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    if (n) qsort(*out, n, sizeof **out, by_name);
    return n;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    *n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        rewind(f);
        if (len >= 0 && (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
        *n = buf ? (size_t)len : 0;
    }
    if (f) fclose(f);
    return buf;
}

/* Runs t on every file of ROOT/tests/fuzz/KIND/T in a child; the child reports each finished input
 * through a pipe, so the parent can name the input that killed it.  One check per target and kind. */
static void replay(const target *t, const char *kind) {
    char dir[4096], path[8192], name[512];
    const char *root = getenv("GC_ROOT");
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", root ? root : ".", kind, t->name);
    char **files;
    size_t n = list(dir, &files), done = 0;
    if (!n) {   /* regressions are optional; seeds are not */
        snprintf(name, sizeof name, "%s: seed corpus present", t->name);
        if (!strcmp(kind, "corpus")) T_CHECK(0, name, "no files in %s", dir);
        free(files);
        return;
    }
    int fd[2];
    if (pipe(fd) < 0) return (void)T_CHECK(0, t->name, "pipe failed");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            uint8_t *data = slurp(path, &len);
            if (!data) _exit(3);
            t->run(data, len);
            free(data);
            if (write(fd[1], "", 1) != 1) _exit(4);
        }
        exit(0);   /* exit, not _exit: the sanitizers' leak check runs at exit */
    }
    close(fd[1]);
    char c;
    while (read(fd[0], &c, 1) == 1) done++;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    snprintf(name, sizeof name, "%s: its %zu %s inputs keep the invariants", t->name, n, kind);
    if (done < n)
        T_CHECK(0, name, "%s/%s killed it (%s %d; its output is above)", kind, files[done],
                WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    else
        T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, name, "the replay ended with status %d", status);
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
}

int main(void) {
    T_CHECK(access(t_data(), R_OK) == 0, "fuzz replay: the unpacked fixtures are present", "%s missing", t_data());
    static const target targets[] = {
        {"fuzz_cfg", fuzz_cfg_one},         {"fuzz_cmd", fuzz_cmd_one},
        {"fuzz_st", fuzz_st_one},           {"fuzz_tok_decode", fuzz_tok_decode_one},
        {"fuzz_tok_encode", fuzz_tok_encode_one}, {"fuzz_tok_load", fuzz_tok_load_one},
        {"fuzz_tr", fuzz_tr_one},
    };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        replay(&targets[i], "corpus");
        replay(&targets[i], "regress");
    }
    return t_exit();
}
