/*
 * powercut: an LD_PRELOAD layer that makes a power cut reproducible.
 *
 * For every file whose path starts with $GRIDSENSE_POWERCUT_PREFIX (but not
 * SQLite's "-shm" index, which is rebuilt after a crash), each write and
 * truncate first saves what it overwrites (an undo record) in
 * $GRIDSENSE_POWERCUT_UNDO/<n>.undo; a successful fsync or fdatasync of the
 * file empties its undo log. After the process is killed, applying the undo
 * records in reverse (gridsense-faults does it) leaves each file exactly as
 * it was at its last fsync: everything written and not synced is lost, as
 * when power fails with the data still in the page cache.
 *
 * Record layout (native endianness): u64 old_size, u64 offset, u64 len,
 * then len bytes that were at offset. Undo: write the bytes back at offset,
 * then truncate the file to old_size. <n>.path holds the file's path.
 *
 * Not modelled: directory entries (a file created and never synced through
 * its directory stays, empty), torn sector writes, reordering within a sync.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_FILES 64

struct file {
    char path[4096];
    int undo;          /* O_APPEND fd of the undo log */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct file files[MAX_FILES];
static int nfiles;
static signed char fd_file[MAX_FDS]; /* fd -> index in files + 1, 0: untracked */
static const char *prefix;
static size_t prefix_len;
static const char *undo_dir;
static int ready;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static void init(void) {
    if (ready)
        return;
    real_open = dlsym(RTLD_NEXT, "open");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_close = dlsym(RTLD_NEXT, "close");
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    prefix = getenv("GRIDSENSE_POWERCUT_PREFIX");
    undo_dir = getenv("GRIDSENSE_POWERCUT_UNDO");
    prefix_len = prefix ? strlen(prefix) : 0;
    ready = 1;
}

static int wanted(const char *path) {
    size_t n;
    if (!prefix || !undo_dir || !path || strncmp(path, prefix, prefix_len) != 0)
        return 0;
    n = strlen(path);
    return !(n >= 4 && strcmp(path + n - 4, "-shm") == 0);
}

static void die(const char *what) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "powercut: %s: %s\n", what, strerror(errno));
    if (n > 0)
        (void)!real_write(2, msg, (size_t)n);
    abort();
}

/* The undo log of `path`, opened on first use. Called with mu held. */
static int file_index(const char *path) {
    char name[4200];
    int i, fd;
    for (i = 0; i < nfiles; i++)
        if (strcmp(files[i].path, path) == 0)
            return i;
    if (nfiles == MAX_FILES || strlen(path) >= sizeof files[0].path)
        die("too many files");
    i = nfiles++;
    strcpy(files[i].path, path);
    snprintf(name, sizeof name, "%s/%d.path", undo_dir, i);
    fd = real_open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || real_write(fd, path, strlen(path)) < 0)
        die("path file");
    real_close(fd);
    snprintf(name, sizeof name, "%s/%d.undo", undo_dir, i);
    files[i].undo = real_open(name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (files[i].undo < 0)
        die("undo file");
    return i;
}

static void track(int fd, const char *path, int created) {
    int i;
    char abs[4096];
    if (fd < 0 || fd >= MAX_FDS)
        return;
    if (path[0] != '/') {
        if (!getcwd(abs, sizeof abs - strlen(path) - 2))
            return;
        strcat(abs, "/");
        strcat(abs, path);
        path = abs;
    }
    if (!wanted(path))
        return;
    pthread_mutex_lock(&mu);
    i = file_index(path);
    fd_file[fd] = (signed char)(i + 1);
    if (created) {
        /* A new file: undone to empty. */
        uint64_t rec[3] = {0, 0, 0};
        if (real_write(files[i].undo, rec, sizeof rec) < 0)
            die("undo write");
    }
    pthread_mutex_unlock(&mu);
}

/* Saves what [off, off+len) of fd holds now, and the size. Called with mu held. */
static void save(int fd, int undo, uint64_t off, uint64_t len) {
    struct stat st;
    uint64_t rec[3], have;
    char buf[65536];
    if (fstat(fd, &st) < 0)
        die("fstat");
    have = (uint64_t)st.st_size > off ? (uint64_t)st.st_size - off : 0;
    if (have > len)
        have = len;
    rec[0] = (uint64_t)st.st_size;
    rec[1] = off;
    rec[2] = have;
    if (real_write(undo, rec, sizeof rec) != (ssize_t)sizeof rec)
        die("undo write");
    while (have > 0) {
        size_t chunk = have > sizeof buf ? sizeof buf : (size_t)have;
        ssize_t r = pread(fd, buf, chunk, (off_t)off);
        if (r <= 0)
            die("pread");
        if (real_write(undo, buf, (size_t)r) != r)
            die("undo write");
        off += (uint64_t)r;
        have -= (uint64_t)r;
    }
}

static int tracked(int fd) {
    return fd >= 0 && fd < MAX_FDS && fd_file[fd] != 0;
}

#define OPEN_BODY(call)                                                   \
    mode_t mode = 0;                                                      \
    int fd, existed;                                                      \
    init();                                                               \
    if (flags & (O_CREAT | O_TMPFILE)) {                                  \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        mode = va_arg(ap, mode_t);                                        \
        va_end(ap);                                                       \
    }                                                                     \
    existed = access(path, F_OK) == 0;                                    \
    fd = call;                                                            \
    if (fd >= 0)                                                          \
        track(fd, path, !existed);                                        \
    return fd;

int open(const char *path, int flags, ...) { OPEN_BODY(real_open(path, flags, mode)) }
int open64(const char *path, int flags, ...) { OPEN_BODY(real_open64(path, flags, mode)) }

/* Only absolute paths are tracked through openat (SQLite uses open). */
#define OPENAT_BODY(call)                                                 \
    mode_t mode = 0;                                                      \
    int fd;                                                               \
    init();                                                               \
    if (flags & (O_CREAT | O_TMPFILE)) {                                  \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        mode = va_arg(ap, mode_t);                                        \
        va_end(ap);                                                       \
    }                                                                     \
    fd = call;                                                            \
    if (fd >= 0 && path[0] == '/')                                        \
        track(fd, path, 0);                                               \
    return fd;

int openat(int dirfd, const char *path, int flags, ...) {
    OPENAT_BODY(real_openat(dirfd, path, flags, mode))
}
int openat64(int dirfd, const char *path, int flags, ...) {
    OPENAT_BODY(real_openat64(dirfd, path, flags, mode))
}

int close(int fd) {
    init();
    if (fd >= 0 && fd < MAX_FDS)
        fd_file[fd] = 0;
    return real_close(fd);
}

static ssize_t logged_pwrite(ssize_t (*real)(int, const void *, size_t, off_t), int fd,
                             const void *buf, size_t n, off_t off) {
    ssize_t r;
    init();
    if (!tracked(fd))
        return real(fd, buf, n, off);
    pthread_mutex_lock(&mu);
    save(fd, files[fd_file[fd] - 1].undo, (uint64_t)off, n);
    r = real(fd, buf, n, off);
    pthread_mutex_unlock(&mu);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    init();
    return logged_pwrite(real_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    init();
    return logged_pwrite(real_pwrite64, fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n) {
    ssize_t r;
    off_t off;
    init();
    if (!tracked(fd))
        return real_write(fd, buf, n);
    pthread_mutex_lock(&mu);
    off = lseek(fd, 0, SEEK_CUR);
    if (off < 0)
        die("lseek");
    if (fcntl(fd, F_GETFL) & O_APPEND) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            die("fstat");
        off = st.st_size;
    }
    save(fd, files[fd_file[fd] - 1].undo, (uint64_t)off, n);
    r = real_write(fd, buf, n);
    pthread_mutex_unlock(&mu);
    return r;
}

static int logged_truncate(int (*real)(int, off_t), int fd, off_t len) {
    int r;
    struct stat st;
    init();
    if (!tracked(fd))
        return real(fd, len);
    pthread_mutex_lock(&mu);
    if (fstat(fd, &st) < 0)
        die("fstat");
    save(fd, files[fd_file[fd] - 1].undo, (uint64_t)len,
         st.st_size > len ? (uint64_t)(st.st_size - len) : 0);
    r = real(fd, len);
    pthread_mutex_unlock(&mu);
    return r;
}

int ftruncate(int fd, off_t len) {
    init();
    return logged_truncate(real_ftruncate, fd, len);
}

int ftruncate64(int fd, off_t len) {
    init();
    return logged_truncate(real_ftruncate64, fd, len);
}

static int logged_sync(int (*real)(int), int fd) {
    int r;
    init();
    if (!tracked(fd))
        return real(fd);
    pthread_mutex_lock(&mu);
    r = real(fd);
    if (r == 0 && real_ftruncate(files[fd_file[fd] - 1].undo, 0) < 0)
        die("undo truncate");
    pthread_mutex_unlock(&mu);
    return r;
}

int fsync(int fd) { return logged_sync(real_fsync, fd); }
int fdatasync(int fd) { return logged_sync(real_fdatasync, fd); }
