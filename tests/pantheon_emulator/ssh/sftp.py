"""SFTP subsystem confined to the environment directory.

The client sees the environment directory as ``/`` (``files/``, ``code/``, ``tmp/``). Reading
is allowed anywhere inside it; writing (create, truncate, remove, rename, mkdir, attributes,
links) only inside ``files/`` and ``code/``. Symbolic links that lead outside are not followed.
A write that would make a file under ``files/`` reach the size limit fails with "File too
large", like the platform filesystem.
"""

from __future__ import annotations

import os
import posixpath
import time

import asyncssh
from asyncssh.sftp import FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_WRITE

from pantheon_emulator.ssh.confine import real_deepest

WRITABLE_TOPS = ("files", "code")


def _guarded(name, *path_positions):
    """An SFTPServer method that first checks that its path arguments are writable."""
    base = getattr(asyncssh.SFTPServer, name)

    def method(self, *args):
        for pos in path_positions:
            self._check_writable(args[pos])  # pylint: disable=protected-access
        return base(self, *args)
    method.__name__ = name
    return method


class ConfinedSFTPServer(asyncssh.SFTPServer):
    """An SFTP server for one session (see module docstring)."""

    def __init__(self, chan, session):
        self._session = session
        self._allowed = session.kind == "appserver" and session.paths is not None
        root = str(session.paths.root) if self._allowed else "/nonexistent-emulator-root"
        super().__init__(chan, chroot=root.encode())
        self._root = os.path.realpath(root).encode()
        self._started = time.monotonic()
        self._sent = 0
        self._disconnect_after = None
        if self._allowed:
            action = session.fault("sftp")
            if action:
                if action.get("reset"):
                    session.abort_soon()
                self._disconnect_after = action.get("ssh_disconnect_after")

    # ------------------------------------------------------------------ paths
    def map_path(self, path):
        if not self._allowed:
            raise asyncssh.SFTPPermissionDenied("SFTP is only available on appserver users ({env}.{site_id})")
        self._session.touch()
        local = super().map_path(path)
        parent, name = os.path.split(local)
        real_parent = str(real_deepest(os.fsdecode(parent))).encode()
        root = self._root
        if not (real_parent == root or real_parent.startswith(root + b"/")):
            raise asyncssh.SFTPPermissionDenied("Permission denied: outside your home directory")
        local = os.path.join(real_parent, name) if name else real_parent
        if os.path.islink(local):
            target = os.path.realpath(local)
            if not (target == root or target.startswith(root + b"/")):
                raise asyncssh.SFTPPermissionDenied("Permission denied: the link leads outside your home directory")
        return local

    def _relative(self, local):
        real = os.path.realpath(os.path.dirname(local))
        rel = os.path.relpath(os.path.join(real, os.path.basename(local)), self._root)
        return rel.decode() if isinstance(rel, bytes) else rel

    def _check_writable(self, path):
        local = self.map_path(path)
        rel = self._relative(local)
        top = rel.split("/", 1)[0]
        if top not in WRITABLE_TOPS or rel == top:
            raise asyncssh.SFTPPermissionDenied(
                f"Permission denied: only files/ and code/ are writable ({posixpath.join('/', rel)})")
        return local

    def _in_files(self, local):
        return self._relative(local).split("/", 1)[0] == "files"

    # ------------------------------------------------------------------ writes
    def open(self, path, pflags, attrs):
        if pflags & (FXF_WRITE | FXF_CREAT | FXF_TRUNC | FXF_APPEND):
            self._check_writable(path)
        return super().open(path, pflags, attrs)

    def open56(self, path, desired_access, flags, attrs):
        # ACE4_WRITE_DATA / ACE4_APPEND_DATA, or a disposition other than "open existing"
        if desired_access & 0x6 or (flags & 0x7) != 0x2:
            self._check_writable(path)
        return super().open56(path, desired_access, flags, attrs)

    def write(self, file_obj, offset, data):
        self._session.touch()
        local = getattr(file_obj, "name", None)
        limit = self._session.max_file_bytes()
        if limit and isinstance(local, (str, bytes)) and self._in_files(os.fsencode(local)) \
                and offset + len(data) >= limit:
            raise asyncssh.SFTPFailure(f"File too large: files of {limit} bytes or more cannot be written "
                                       "to the Pantheon filesystem")
        return super().write(file_obj, offset, data)

    def read(self, file_obj, offset, size):
        self._session.touch()
        data = super().read(file_obj, offset, size)
        if self._disconnect_after is not None:
            self._sent += len(data)
            if self._sent >= self._disconnect_after:
                self._session.abort_soon()
        return data

    # operations that change something: every path argument at these positions must be writable
    remove = _guarded("remove", 0)
    mkdir = _guarded("mkdir", 0)
    rmdir = _guarded("rmdir", 0)
    rename = _guarded("rename", 0, 1)
    posix_rename = _guarded("posix_rename", 0, 1)
    setstat = _guarded("setstat", 0)
    lsetstat = _guarded("lsetstat", 0)
    symlink = _guarded("symlink", 1)
    link = _guarded("link", 1)

    def exit(self):
        if self._allowed:
            self._session.log("SFTP", "sftp", 0, time.monotonic() - self._started)
        return super().exit()
