"""Confinement of client-supplied paths to an environment directory (the SSH user's home)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path


class ConfinementError(ValueError):
    """A path outside what the session may reach."""


def _inside(path, top):
    path, top = str(path), str(top)
    return path == top or path.startswith(top.rstrip("/") + "/")


def real_deepest(path):
    """realpath of ``path`` when it exists, else realpath of its deepest existing ancestor joined
    with the rest (so a symlink anywhere on the way is resolved)."""
    path = Path(path)
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe.name)
        probe = probe.parent
    real = Path(os.path.realpath(probe))
    for name in reversed(missing):
        real = real / name
    return real


def home_relative(arg, home):
    """Translate ``~``, ``~/x``, ``/~/x`` and absolute paths under ``home`` to a path relative to
    ``home``; refuse other absolute paths and any ``..`` component."""
    text = arg
    if text in ("~", "/~"):
        text = "."
    elif text.startswith("~/"):
        text = text[2:]
    elif text.startswith("/~/"):
        text = text[3:]
    elif text.startswith("/"):
        home_text = str(home).rstrip("/") + "/"
        if not (text + "/").startswith(home_text):
            raise ConfinementError(f"absolute path {arg!r} is outside your home directory")
        text = text[len(home_text):] or "."
    if ".." in text.split("/"):
        raise ConfinementError(f"path {arg!r} contains '..'")
    return posixpath.normpath(text) if text else "."


def confine(arg, home, tops=("files", "code"), allow_top_itself=True):
    """Check that ``arg`` names ``home/<top>`` or something inside it for one of ``tops``.

    Returns (relative path as given, normalized; top name). Symlinks are resolved: a path that
    leads outside its top through a link is refused."""
    rel = home_relative(arg, home)
    first = rel.split("/", 1)[0]
    if first not in tops or (rel == first and not allow_top_itself):
        allowed = ", ".join(f"{t}/" for t in tops)
        raise ConfinementError(f"path {arg!r} is outside the allowed directories ({allowed})")
    top_real = os.path.realpath(Path(home) / first)
    real = real_deepest(Path(home) / rel)
    if not _inside(real, top_real):
        raise ConfinementError(f"path {arg!r} leads outside {first}/ through a symbolic link")
    # keep a trailing slash: rsync gives it meaning
    if arg.endswith("/") and not rel.endswith("/") and rel != ".":
        rel += "/"
    return rel, first
