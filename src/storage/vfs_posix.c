/*
 * vfs_posix.c - the storage VFS over the real file system.
 */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cn_common.h"

struct storage_file {
    int fd;
};

static int px_open(struct storage_vfs *v, const char *path, int flags, struct storage_file **out)
{
    int of = O_CLOEXEC | ((flags & STORAGE_O_RDWR) ? O_RDWR : O_RDONLY);
    if (flags & STORAGE_O_CREAT) of |= O_CREAT;
    if (flags & STORAGE_O_EXCL) of |= O_EXCL;
    if (flags & STORAGE_O_TRUNC) of |= O_TRUNC;
    int fd = open(path, of, 0644);
    if (fd < 0) return -errno;
    struct storage_file *f = CN_NEW(struct storage_file);
    f->fd = fd;
    *out = f;
    return 0;
}

static int px_close(struct storage_vfs *v, struct storage_file *f)
{
    int rc = close(f->fd) < 0 ? -errno : 0;
    cn_free(f);
    return rc == -EINTR ? 0 : rc;
}

static int px_pread(struct storage_vfs *v, struct storage_file *f, void *p, size_t n, uint64_t off,
                    size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, (char *)p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

static int px_pwrite(struct storage_vfs *v, struct storage_file *f, const void *p, size_t n,
                     uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(f->fd, (const char *)p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)r;
    }
    return 0;
}

static int px_sync(struct storage_vfs *v, struct storage_file *f, bool data_only)
{
    int r = data_only ? fdatasync(f->fd) : fsync(f->fd);
    return r < 0 ? -errno : 0;
}

static int px_truncate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    while (ftruncate(f->fd, (off_t)size) < 0) {
        if (errno != EINTR) return -errno;
    }
    return 0;
}

static int px_allocate(struct storage_vfs *v, struct storage_file *f, uint64_t size)
{
    if (fallocate(f->fd, 0, 0, (off_t)size) == 0) return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS) return -errno;
    /* No fallocate here (some file systems): a sparse extension reads as zeros too. */
    struct stat st;
    if (fstat(f->fd, &st) < 0) return -errno;
    if ((uint64_t)st.st_size >= size) return 0;
    return px_truncate(v, f, size);
}

static int px_size(struct storage_vfs *v, struct storage_file *f, uint64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0) return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int px_rename(struct storage_vfs *v, const char *from, const char *to)
{
    return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(struct storage_vfs *v, const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

static int px_sync_dir(struct storage_vfs *v, const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int px_mkdir(struct storage_vfs *v, const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    return -errno;
}

static int px_list(struct storage_vfs *v, const char *path, storage_list_fn fn, void *ctx)
{
    DIR *d = opendir(path);
    if (!d) return -errno;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = -errno;
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        rc = fn(ctx, de->d_name);
        if (rc) break;
    }
    closedir(d);
    return rc;
}

static struct storage_vfs posix_vfs = {
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwrite = px_pwrite,
    .sync = px_sync,
    .truncate = px_truncate,
    .allocate = px_allocate,
    .size = px_size,
    .rename = px_rename,
    .unlink = px_unlink,
    .sync_dir = px_sync_dir,
    .mkdir = px_mkdir,
    .list = px_list,
};

struct storage_vfs *storage_vfs_posix(void)
{
    return &posix_vfs;
}
