/* tr_save when the disk says no: /dev/full, a full file system, a file-size limit (SIGXFSZ), a
 * read-only or vanished directory, and kill -9 in the middle of saving.  The previous file must
 * always survive whole, the error must name the path, and the transcript in memory stays as it was. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "tests/t.h"
#include "tests/tr/tr_fixture.h"

/* A transcript of about `kb` KiB of text, tagged so two of them can be told apart. */
static tr_transcript *sized(int kb, char tag) {
    tr_transcript *t;
    tr_create(&t);
    char *text = malloc(1024);
    memset(text, tag, 1024);
    for (int i = 0; i < kb; i++) fx_msg(t, i % 2 ? TR_MODEL : TR_USER, text, 1024, 40, i % 2 ? "stop_id" : "");
    free(text);
    return t;
}

static int leftover_temps(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

static void remove_temps(const char *dir) {
    DIR *d = opendir(dir);
    char p[4200 + 260];
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) snprintf(p, sizeof p, "%s/%s", dir, e->d_name), unlink(p);
    if (d) closedir(d);
}

/* Does path hold exactly `want` (loadable and equal)? */
static int holds(const char *path, tr_transcript *want) {
    tr_transcript *t;
    char err[4600];
    if (tr_load(&t, path, err, sizeof err)) return 0;
    int same = !*fx_diff(t, want);
    tr_free(t);
    return same;
}

/* Saves big over the small one in a child set up by `setup` (which returns 0 when it could prepare
 * the failure); checked in the child, since a private mount is only visible there.  Exit codes:
 * 0 refused cleanly, 2 the save succeeded, 3 the error did not name the file or lacked `why`,
 * 4 the transcript changed, 5 SIGXFSZ left blocked, 6 the old file damaged, 7 a temp file left,
 * 9 setup failed. */
static int failing_save(const char *path, const char *why, int (*setup)(const char *), int *signo) {
    pid_t pid = fork();
    if (pid == 0) {
        char dir[4200], err[4600] = "";
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        if (setup(path)) _exit(9);
        tr_transcript *big = sized(200, 'B'), *again = sized(200, 'B'), *small = sized(4, 'A');
        int had = access(path, F_OK) == 0;
        if (tr_save(big, path, err, sizeof err) == 0) _exit(2);
        if (!strstr(err, path) || !strstr(err, why)) {
            fprintf(stderr, "error was: %s\n", err);
            _exit(3);
        }
        if (*fx_diff(big, again)) _exit(4);
        sigset_t now;
        sigprocmask(SIG_BLOCK, NULL, &now);
        if (sigismember(&now, SIGXFSZ)) _exit(5);
        if (had && !holds(path, small)) _exit(6);
        _exit(leftover_temps(dir) ? 7 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    *signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int limit_size(const char *path) {
    (void)path;
    struct rlimit rl = {48 * 1024, 48 * 1024};
    return setrlimit(RLIMIT_FSIZE, &rl);
}

/* A 64 KiB tmpfs over the file's directory, in a private mount namespace. */
static int small_tmpfs(const char *path) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"))
        return -1;
    tr_transcript *small = sized(4, 'A');
    char err[4600];
    int rc = tr_save(small, path, err, sizeof err);
    tr_free(small);
    return rc;
}

/* The directory made read-only: a read-only bind mount (root ignores permissions), else chmod. */
static int read_only(const char *path) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    if (geteuid() != 0) return chmod(dir, 0555);
    if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount(dir, dir, NULL, MS_BIND, NULL) || mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL))
        return -1;
    return 0;
}

static int no_setup(const char *path) {
    (void)path;
    return 0;
}

static void test_refusals(const char *top) {
    char dir[4200], path[4300], err[4600];
    int sig;
    tr_transcript *small = sized(4, 'A');

    /* /dev/full: written in place (never renamed over), and the error says why */
    struct stat sb;
    int dev_full = stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode);
    T_CHECK(dev_full, "/dev/full is a device here", NULL);   /* else a save would create it as a file */
    T_CHECK(dev_full && tr_save(small, "/dev/full", err, sizeof err) < 0 && strstr(err, "/dev/full") &&
                strstr(err, "No space left"),
            "/dev/full: clear error", "%s", err);
    T_CHECK(stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/full is still the device", NULL);

    /* a file-size limit: the kernel's SIGXFSZ must not kill us */
    snprintf(dir, sizeof dir, "%s/limit", top);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/chat.json", dir);
    tr_save(small, path, err, sizeof err);
    int rc = failing_save(path, "File too large", limit_size, &sig);
    T_CHECK(rc == 0, "ulimit -f: EFBIG instead of death by SIGXFSZ; old file intact; no temp file left",
            "child exit %d, signal %d", rc, sig);

    /* a full file system: a 64 KiB tmpfs (or, where mounting is not allowed, the size limit again) */
    snprintf(dir, sizeof dir, "%s/tmpfs", top);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/chat.json", dir);
    rc = failing_save(path, "No space left", small_tmpfs, &sig);
    if (rc == 9) {
        tr_save(small, path, err, sizeof err);
        rc = failing_save(path, "File too large", limit_size, &sig);
        printf("(mounting a tmpfs is not permitted here: the full disk is simulated with RLIMIT_FSIZE)\n");
    }
    T_CHECK(rc == 0, "full file system: a clear error naming the file; old file intact; no temp file left",
            "child exit %d, signal %d", rc, sig);

    /* a read-only directory */
    snprintf(dir, sizeof dir, "%s/ro", top);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/chat.json", dir);
    tr_save(small, path, err, sizeof err);
    rc = failing_save(path, dir, read_only, &sig);
    chmod(dir, 0700);
    T_CHECK(rc == 0, "read-only directory: a clear error naming the file and directory; old file intact",
            "child exit %d", rc);
    T_CHECK(holds(path, small), "read-only directory: the old file is intact seen from outside", NULL);

    /* a directory that is gone */
    snprintf(dir, sizeof dir, "%s/gone", top);
    mkdir(dir, 0700);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/chat.json", dir);
    rc = failing_save(path, "No such file or directory", no_setup, &sig);
    T_CHECK(rc == 0, "vanished directory: a clear error naming the file", "child exit %d", rc);
    tr_free(small);
}

/* kill -9 at random moments of a save loop: the file is always one whole version. */
static void test_kill(const char *top) {
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/kill", top);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/chat.json", dir);
    tr_transcript *a = sized(600, 'A'), *b = sized(900, 'B');
    int whole = 0, rounds = 30, mid_save = 0;
    srand((unsigned)time(NULL));
    /* kill within about three saves' time, however fast this build and disk are */
    char err[4600];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tr_save(b, path, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long save_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000 + 1;
    for (int r = 0; r < rounds; r++) {
        int ready[2];
        if (pipe(ready)) break;
        pid_t pid = fork();
        if (pid == 0) {
            char err[4600];
            close(ready[0]);
            for (long k = 0;; k++) {
                if (tr_save(k % 2 ? b : a, path, err, sizeof err)) _exit(1);
                if (k == 0 && write(ready[1], "x", 1) != 1) _exit(1);
            }
        }
        close(ready[1]);
        char x;
        int started = read(ready[0], &x, 1) == 1;
        close(ready[0]);
        /* even rounds: any moment; odd rounds: once a temp file shows, i.e. inside a save */
        for (int spins = 0; r % 2 && spins < 100000 && !leftover_temps(dir); spins++) {}
        long us = rand() % (r % 2 ? 1000 : 3 * save_us);
        nanosleep(&(struct timespec){us / 1000000, us % 1000000 * 1000}, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        mid_save += leftover_temps(dir) > 0;
        whole += started && (holds(path, a) || holds(path, b));
        remove_temps(dir);
    }
    T_CHECK(whole == rounds, "kill -9 during saves: the file is always the old or the new whole version",
            "%d of %d rounds", whole, rounds);
    T_CHECK(mid_save > 0, "kill -9 landed in the middle of a save at least once (the test bites)", NULL);
    printf("  (%d of %d kills interrupted a save in progress)\n", mid_save, rounds);
    tr_free(a);
    tr_free(b);
}

int main(void) {
    char dir[4096];
    if (!fx_tmpdir(dir, sizeof dir)) return 1;
    test_refusals(dir);
    test_kill(dir);
    fx_rmdir(dir);
    return t_exit();
}
