#!/usr/bin/env python3
"""A folder mounted elsewhere through FUSE, that turns read-only while a switch file exists.

    python3 switchable_fs.py BACKING MOUNTPOINT SWITCH

Every call passes through to BACKING. While the file SWITCH exists, every call that would
change something fails with EROFS, files open for writing included: what a process sees when
the kernel remounts its filesystem read-only under it (after I/O errors, say). A real remount
is refused while a file is open for writing ("mount point is busy"), so a running daemon
cannot be put through it otherwise. Runs in the foreground until unmounted; needs root and
mfusepy (`pip install mfusepy`, over libfuse 3).
"""
import errno
import os
import sys

import mfusepy as fuse


class Switchable(fuse.Operations):
    use_ns = True

    def __init__(self, backing, switch):
        self.backing = backing
        self.switch = switch

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _writable(self):
        if os.path.exists(self.switch):
            raise fuse.FuseOSError(errno.EROFS)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        attributes = {key: getattr(st, key) for key in (
            "st_mode", "st_nlink", "st_uid", "st_gid", "st_size")}
        return attributes | {key: getattr(st, key + "_ns") for key in (
            "st_atime", "st_mtime", "st_ctime")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        return {key: getattr(st, key) for key in (
            "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
            "f_favail", "f_flag", "f_namemax")}

    def access(self, path, mode):
        if mode & os.W_OK:
            self._writable()
        if not os.access(self._path(path), mode):
            raise fuse.FuseOSError(errno.EACCES)

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC):
            self._writable()
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        self._writable()
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._writable()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._writable()
        if fh is None:
            os.truncate(self._path(path), length)
        else:
            os.ftruncate(fh, length)

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def unlink(self, path):
        self._writable()
        os.unlink(self._path(path))

    def rename(self, old, new):
        self._writable()
        os.rename(self._path(old), self._path(new))

    def mkdir(self, path, mode):
        self._writable()
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        self._writable()
        os.rmdir(self._path(path))

    def chmod(self, path, mode):
        self._writable()
        os.chmod(self._path(path), mode)

    def utimens(self, path, times=None):
        self._writable()
        os.utime(self._path(path), ns=times)


def main():
    backing, mountpoint, switch = sys.argv[1:4]
    fuse.FUSE(Switchable(os.path.abspath(backing), os.path.abspath(switch)), mountpoint,
              foreground=True)


if __name__ == "__main__":
    main()
