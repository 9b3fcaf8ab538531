"""``rsync --server`` confined to an environment's ``files/`` and ``code/`` (as Debian's rrsync
does for one directory).

The client's server-side argument vector is checked option by option against an allow-list;
every path (the transfer paths and the path-valued options) must stay inside ``files/`` or
``code/`` (``--temp-dir`` may also point into ``tmp/``), with ``~/`` read as the environment
directory. The real rsync binary then runs with the environment directory as its working
directory.

The 256MB rule is enforced the way the platform's filesystem enforces it: when the receiver
writes under ``files/``, the rsync process runs with ``RLIMIT_FSIZE`` set just under the limit
and ``SIGXFSZ`` ignored, so a write that would make a file reach the limit fails with
``EFBIG`` ("File too large") and rsync reports an I/O error (exit 11 or 23). Smaller files in
the same run that come before it are transferred (rsync stops at the failed write).
"""

from __future__ import annotations

import resource
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from pantheon_emulator.ssh.confine import ConfinementError, confine

# Short options rsync's client may put in the server's option cluster.
SHORT_FLAGS = set("ACDEHIJKLNORSUWXbcdgiklmnopqrtuvxyz")
SENDER_DENIED_SHORT = {"L": "--copy-links", "K": "--keep-dirlinks", "k": "--copy-dirlinks"}
RECEIVER_DENIED_SHORT = {"K": "--keep-dirlinks"}
SHORT_WITH_NUMBER = set("B@")

FLAG, VALUE, PATH_IN_DEST, TEMP_DIR, FILES_FROM = range(5)
LONG_OPTIONS = {
    **{name: FLAG for name in (
        "server", "sender", "append", "append-verify", "delay-updates", "delete", "delete-after",
        "delete-before", "delete-delay", "delete-during", "delete-excluded", "delete-missing-args",
        "existing", "fake-super", "force", "from0", "fsync", "fuzzy", "ignore-errors", "ignore-existing",
        "ignore-missing-args", "ignore-times", "inplace", "list-only", "mkpath", "msgs2stderr", "munge-links",
        "new-compress", "no-implied-dirs", "no-msgs2stderr", "no-W", "no-r", "no-relative", "no-specials",
        "no-devices", "numeric-ids", "old-compress", "one-file-system", "open-noatime", "partial",
        "preallocate", "remove-source-files", "safe-links", "copy-unsafe-links", "size-only", "super",
        "use-qsort", "checksum", "recursive", "links", "perms", "times", "group", "owner", "dirs",
        "hard-links", "sparse", "compress", "update", "dry-run", "whole-file", "relative",
        "numeric-ids", "omit-dir-times", "omit-link-times", "xattrs", "acls", "executability",
        "specials", "devices", "existing", "prune-empty-dirs", "no-inc-recursive", "inc-recursive")},
    **{name: VALUE for name in (
        "max-size", "min-size", "max-delete", "max-alloc", "bwlimit", "timeout", "modify-window",
        "block-size", "checksum-choice", "compress-choice", "compress-level", "checksum-seed",
        "skip-compress", "suffix", "usermap", "groupmap", "iconv", "info", "outbuf", "stop-after",
        "stop-at", "time-limit", "log-format", "out-format", "chmod")},
    **{name: PATH_IN_DEST for name in ("partial-dir", "backup-dir", "compare-dest", "copy-dest", "link-dest")},
    "temp-dir": TEMP_DIR,
    "files-from": FILES_FROM,
}
DENIED_LONG = {
    "rsh", "rsync-path", "daemon", "config", "log-file", "log-file-format", "write-batch", "read-batch",
    "only-write-batch", "copy-devices", "write-devices", "no-munge-links", "password-file", "port",
    "sockopts", "address", "protect-args", "secluded-args", "keep-dirlinks", "copy-links", "copy-dirlinks",
    "debug", "remote-option", "early-input", "filter", "exclude-from", "include-from",
}


class RsyncRefused(ValueError):
    """The requested rsync run is not allowed; the message names why."""


@dataclass
class RsyncPlan:
    """What to execute: the argument vector (program first), the direction and the file size cap."""

    argv: list
    sender: bool
    tops: tuple
    max_file_bytes: int = 0

    def preexec(self):
        """Child setup: cap the size of written files (files/ only), like the platform filesystem."""
        if self.max_file_bytes:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            cap = max(self.max_file_bytes - 1, 0)
            resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))


def _check_short_cluster(arg, sender):
    cluster = arg[1:]
    for i, ch in enumerate(cluster):
        if ch == "e":
            # "e<capabilities>": the rest of the cluster is protocol information, not options
            rest = cluster[i + 1:]
            if not all(c.isalnum() or c == "." for c in rest):
                raise RsyncRefused(f"rsync: malformed option cluster {arg!r}")
            return
        if ch in SHORT_WITH_NUMBER:
            if not cluster[i + 1:].lstrip("-").isdigit():
                raise RsyncRefused(f"rsync: option -{ch} needs a number")
            return
        if ch == "s":
            raise RsyncRefused("rsync: option -s (--secluded-args) is not allowed by this server")
        denied = SENDER_DENIED_SHORT if sender else RECEIVER_DENIED_SHORT
        if ch in denied:
            raise RsyncRefused(f"rsync: option -{ch} ({denied[ch]}) is not allowed by this server")
        if ch not in SHORT_FLAGS:
            raise RsyncRefused(f"rsync: option -{ch} is not allowed by this server")


def plan_rsync(argv, home, max_file_bytes=0, rsync_binary=None):
    """Validate a client's ``rsync --server ...`` argument vector; returns an :class:`RsyncPlan`.

    ``home`` is the environment directory. Raises :class:`RsyncRefused` with a message naming the
    refused option or path."""
    if len(argv) < 2 or argv[1] != "--server":
        raise RsyncRefused("rsync: only 'rsync --server' (a transfer started by an rsync client) is allowed")
    if "--daemon" in argv:
        raise RsyncRefused("rsync: option --daemon is not allowed by this server")
    sender = "--sender" in argv
    out = [rsync_binary or shutil.which("rsync") or "/usr/bin/rsync"]
    deferred = []  # (option name, value) checked once the transfer paths are known
    i = 1
    paths = None
    while i < len(argv):
        arg = argv[i]
        i += 1
        if paths is not None:
            paths.append(arg)
            continue
        if arg == ".":
            paths = []
            continue
        if arg.startswith("--"):
            name, _sep, value = arg[2:].partition("=")
            has_value = "=" in arg
            if name in DENIED_LONG:
                raise RsyncRefused(f"rsync: option --{name} is not allowed by this server")
            kind = LONG_OPTIONS.get(name)
            if kind is None:
                raise RsyncRefused(f"rsync: option --{name} is not allowed by this server")
            if kind == FLAG:
                if has_value:
                    raise RsyncRefused(f"rsync: option --{name} takes no value")
                out.append(arg)
                continue
            if not has_value:
                if i >= len(argv):
                    raise RsyncRefused(f"rsync: option --{name} needs a value")
                value = argv[i]
                i += 1
            if kind == FILES_FROM and value != "-":
                raise RsyncRefused("rsync: --files-from is only allowed with '-' (the list sent by the client)")
            if kind in (PATH_IN_DEST, TEMP_DIR):
                deferred.append((name, kind, value, len(out)))
                out.extend([f"--{name}", None])
                continue
            out.append(f"--{name}={value}")
            continue
        if arg.startswith("-") and len(arg) > 1:
            _check_short_cluster(arg, sender)
            out.append(arg)
            continue
        raise RsyncRefused(f"rsync: unexpected argument {arg!r} before the '.' separator")
    if paths is None or not paths:
        raise RsyncRefused("rsync: no transfer path given; use files/ or code/")
    if not sender and len(paths) != 1:
        raise RsyncRefused("rsync: a transfer to the server takes exactly one destination path")
    checked = []
    tops = []
    try:
        for path in paths:
            # sites/: where Drush 8 writes an archive given a Drupal-root-relative destination
            # (the home is the user's; see README "Paths named on drush/wp command lines")
            rel, top = confine(path, home, tops=("files", "code", "sites"))
            checked.append(rel)
            tops.append(top)
        for name, kind, value, pos in deferred:
            if kind == TEMP_DIR:
                # the receiver resolves a relative temp dir from the destination directory; the
                # platform's shell expands ~/tmp/ to the home directory, so pass it absolute
                rel, _path = confine(value, home, tops=("tmp", "files", "code"))
                rel = str(Path(home) / rel) + ("/" if value.endswith("/") else "")
            else:
                if value.startswith(("/", "~")) or ".." in value.split("/"):
                    raise ConfinementError(f"--{name} must be a relative path without '..'")
                rel = value
            out[pos + 1] = rel
    except ConfinementError as exc:
        raise RsyncRefused(f"rsync: {exc}") from None
    out.append(".")
    out.extend(checked)
    cap = max_file_bytes if (not sender and "files" in tops) else 0
    return RsyncPlan(argv=out, sender=sender, tops=tuple(tops), max_file_bytes=cap)
