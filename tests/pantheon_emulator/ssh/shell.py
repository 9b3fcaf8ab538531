"""Split an SSH exec request the way a POSIX shell would, without running a shell.

Terminus sends ``TRACE_ID=<id> drush <args>`` with every non-trivial argument quoted by PHP's
``escapeshellarg`` (single quotes, ``'\\''`` for an embedded quote); rsync 3.2.4+ escapes
special characters of remote paths with backslashes; git sends ``git-upload-pack '<path>'``.
``shlex`` in POSIX mode undoes all three. Shell operators (``;``, ``|``, ``&&``, redirections,
command substitution) are refused: the emulator runs single commands only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
OPERATOR_CHARS = set(";&|<>()`")


class CommandLineError(ValueError):
    """The command line cannot be run: a syntax error (status 2) or a shell feature the
    emulator does not offer (status 127, "command not allowed")."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


@dataclass
class CommandLine:
    """A parsed command: leading ``VAR=value`` assignments, then the argument vector."""

    env: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)

    @property
    def name(self):
        """The program name (basename of argv[0]), '' for an empty command."""
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


def _unquoted_operators(text):
    """Yield shell operator tokens that appear outside quotes."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    for token in lexer:
        if token and set(token) <= OPERATOR_CHARS:
            yield token


def _command_substitution(text):
    """True when a backtick or ``$(`` occurs unescaped outside single quotes."""
    quote = None
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif quote == "'":
            quote = None if ch == "'" else quote
        elif ch == "\\":
            escaped = True
        elif ch == "`" or (ch == "$" and text[i + 1:i + 2] == "("):
            return True
        elif ch == '"':
            quote = None if quote == '"' else '"'
        elif ch == "'" and quote is None:
            quote = "'"
    return False


def parse_command_line(text):
    """Parse ``text`` into a :class:`CommandLine`; raises :class:`CommandLineError`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    text = text or ""
    try:
        operators = list(_unquoted_operators(text))
        argv = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        raise CommandLineError(f"syntax error in command line: {exc}") from None
    if operators:
        raise CommandLineError(
            f"command not allowed: shell operator {operators[0]!r}; run one command per SSH session", 127)
    if _command_substitution(text):
        raise CommandLineError("command not allowed: command substitution; run one command per SSH session", 127)
    env = {}
    while argv and ASSIGNMENT_RE.match(argv[0]):
        name, value = argv.pop(0).split("=", 1)
        env[name] = value
    return CommandLine(env=env, argv=argv)


def split_option(arg):
    """``--name=value`` -> ('name', 'value'); ``--name`` -> ('name', None); else (None, None)."""
    if not arg.startswith("--") or arg == "--":
        return None, None
    name, sep, value = arg[2:].partition("=")
    return name, (value if sep else None)
