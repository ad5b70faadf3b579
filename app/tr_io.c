/* tr_io.c — writing files so that a crash, a full disk or a file-size limit never damages the
 * previous version: temp file beside the target, fsync, rename, fsync of the directory. */
#include "app/tr_int.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tr_io_write_all(int fd, const void *p, size_t n) {
    /* Past RLIMIT_FSIZE the kernel sends SIGXFSZ, which kills by default.  Hold it off and swallow
     * the one our write raised, so the limit is just the error EFBIG; the process mask is restored. */
    sigset_t xfsz, old, pend;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGXFSZ), rc = 0;
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = w < 0 ? errno : ENOSPC;
            break;
        }
        c += w;
        n -= (size_t)w;
    }
    sigpending(&pend);
    if (!was_pending && sigismember(&pend, SIGXFSZ)) sigtimedwait(&xfsz, NULL, &(struct timespec){0, 0});
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The directory part of path ("." for a bare name), malloc'd. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int tr_io_sync_dir(const char *path) {
    char *dir = dir_of(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1, rc = 0;
    free(dir);
    if (fd < 0) return errno ? errno : ENOMEM;
    if (fsync(fd) && errno != EINVAL) rc = errno;   /* some file systems cannot sync a directory */
    close(fd);
    return rc;
}

/* Devices and pipes (/dev/full, /dev/stdout) cannot be replaced by a rename: write them in place. */
static int write_in_place(const char *path, const char *data, size_t len, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open for writing: %s", path, strerror(errno));
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int rc = tr_io_write_all(fd, data, len);
    if (close(fd) && !rc) rc = errno;
    if (rc) snprintf(err, errlen, "%s: write failed: %s", path, strerror(rc));
    return rc ? -1 : 0;
}

int tr_io_save(const char *path, const char *data, size_t len, dev_t *dev, ino_t *old_ino, ino_t *new_ino,
               char *err, size_t errlen) {
    char real[PATH_MAX];
    struct stat sb;
    *old_ino = *new_ino = 0;
    *dev = 0;
    if (!path || !*path) {
        snprintf(err, errlen, "no file name given");
        return -1;
    }
    /* a symlink stays one: the file it points to is replaced */
    const char *target = path;
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        if (!realpath(path, real)) {
            snprintf(err, errlen, "%s: cannot follow the symbolic link: %s", path, strerror(errno));
            return -1;
        }
        target = real;
    }
    if (stat(target, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: is a directory", path);
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) return write_in_place(path, data, len, err, errlen);
        *old_ino = sb.st_ino;
    }
    size_t tl = strlen(target) + 16;
    char *tmp = malloc(tl);
    if (!tmp) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, tl, "%s.tmp.XXXXXX", target);
    int fd = mkostemp(tmp, O_CLOEXEC), rc;
    if (fd < 0) {
        char *dir = dir_of(target);
        snprintf(err, errlen, "%s: cannot create a file in %s: %s", path, dir ? dir : "its directory",
                 strerror(errno));
        free(dir);
        free(tmp);
        return -1;
    }
    const char *step = "write failed";
    if (*old_ino) fchmod(fd, sb.st_mode & 07777);   /* keep the mode the user gave the file */
    if ((rc = tr_io_write_all(fd, data, len))) goto fail;
    step = "fsync failed";
    if (fsync(fd)) goto fail_errno;
    if (fstat(fd, &sb) == 0) *dev = sb.st_dev, *new_ino = sb.st_ino;
    step = "close failed";
    if (close(fd)) {
        fd = -1;
        goto fail_errno;
    }
    fd = -1;
    step = "rename failed";
    if (rename(tmp, target)) goto fail_errno;
    free(tmp);
    /* makes the rename durable; if this fails the file is still complete (old or new), so the save
     * counts as done */
    tr_io_sync_dir(target);
    return 0;
fail_errno:
    rc = errno;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    snprintf(err, errlen, "%s: %s: %s%s", path, step, strerror(rc),
             *old_ino ? " (the previous file is unchanged)" : "");
    return -1;
}

void tr_io_new_id(char id[17]) {
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid();
    }
    snprintf(id, 17, "%016llx", (unsigned long long)r);
}
