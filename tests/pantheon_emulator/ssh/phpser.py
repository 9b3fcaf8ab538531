"""PHP ``serialize()`` values: parse, replace inside strings, write back with correct byte lengths
(what ``wp search-replace`` does to serialized options and meta)."""

from __future__ import annotations

import re


class NotSerialized(ValueError):
    """The text is not a PHP serialized value."""


_NUM_RE = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|-?INF|NAN")


def _expect(data, pos, token):
    if data[pos:pos + len(token)] != token:
        raise NotSerialized(f"expected {token!r} at {pos}")
    return pos + len(token)


def _read_int(data, pos, end_char):
    end = data.index(end_char, pos)
    text = data[pos:end]
    if not re.fullmatch(rb"[+-]?[0-9]+", text):
        raise NotSerialized(f"bad integer at {pos}")
    return int(text), end + 1


def _parse(data, pos):
    """Parse one value at ``pos``; returns (node, new pos). Nodes: ('s', bytes), ('raw', bytes)
    for scalars, ('a', [(key node, value node)...]) and ('O', class bytes, [(k, v)...])."""
    try:
        kind = data[pos:pos + 1]
        if kind == b"N":
            return ("raw", b"N;"), _expect(data, pos + 1, b";")
        if kind in (b"b", b"i", b"d"):
            pos = _expect(data, pos + 1, b":")
            end = data.index(b";", pos)
            value = data[pos:end]
            if kind == b"b" and value not in (b"0", b"1"):
                raise NotSerialized("bad boolean")
            if kind == b"i" and not re.fullmatch(rb"[+-]?[0-9]+", value):
                raise NotSerialized("bad integer")
            if kind == b"d" and not _NUM_RE.fullmatch(value):
                raise NotSerialized("bad float")
            return ("raw", kind + b":" + value + b";"), end + 1
        if kind == b"s":
            pos = _expect(data, pos + 1, b":")
            length, pos = _read_int(data, pos, b":")
            pos = _expect(data, pos, b'"')
            text = data[pos:pos + length]
            if len(text) != length:
                raise NotSerialized("string too short")
            pos = _expect(data, pos + length, b'";')
            return ("s", text), pos
        if kind in (b"a", b"O"):
            cls = None
            pos = _expect(data, pos + 1, b":")
            if kind == b"O":
                length, pos = _read_int(data, pos, b":")
                pos = _expect(data, pos, b'"')
                cls = data[pos:pos + length]
                pos = _expect(data, pos + length, b'":')
            count, pos = _read_int(data, pos, b":")
            pos = _expect(data, pos, b"{")
            items = []
            for _index in range(count):
                key, pos = _parse(data, pos)
                value, pos = _parse(data, pos)
                items.append((key, value))
            pos = _expect(data, pos, b"}")
            return (("a", items) if kind == b"a" else ("O", cls, items)), pos
    except ValueError as exc:  # data.index failures
        raise NotSerialized(str(exc)) from None
    raise NotSerialized(f"unknown type {kind!r} at {pos}")


def parse(data):
    """Parse a whole serialized value (bytes); raises NotSerialized."""
    node, pos = _parse(data, 0)
    if pos != len(data):
        raise NotSerialized("trailing data")
    return node


def dump(node):
    kind = node[0]
    if kind == "raw":
        return node[1]
    if kind == "s":
        return b's:%d:"%s";' % (len(node[1]), node[1])
    items = node[1] if kind == "a" else node[2]
    body = b"".join(dump(k) + dump(v) for k, v in items)
    if kind == "a":
        return b"a:%d:{%s}" % (len(items), body)
    return b'O:%d:"%s":%d:{%s}' % (len(node[1]), node[1], len(items), body)


def looks_serialized(text):
    return isinstance(text, str) and len(text) >= 4 and text[:2] in ("a:", "O:", "s:", "i:", "b:", "d:") \
        or text == "N;"


def replace(text, old, new):
    """Replace ``old`` with ``new`` in ``text``; serialized values are rewritten with correct
    lengths (nested serialized strings too). Returns (new text, was serialized)."""
    if looks_serialized(text):
        try:
            node = parse(text.encode("utf-8"))
        except NotSerialized:
            return text.replace(old, new), False
        return dump(_replace_node(node, old.encode(), new.encode())).decode("utf-8", "surrogateescape"), True
    return text.replace(old, new), False


def _replace_node(node, old, new):
    kind = node[0]
    if kind == "s":
        value = node[1]
        try:
            inner = value.decode("utf-8")
        except UnicodeDecodeError:
            return ("s", value.replace(old, new))
        if looks_serialized(inner):
            try:
                sub = parse(value)
            except NotSerialized:
                return ("s", value.replace(old, new))
            return ("s", dump(_replace_node(sub, old, new)))
        return ("s", value.replace(old, new))
    if kind == "a":
        return ("a", [(k, _replace_node(v, old, new)) for k, v in node[1]])
    if kind == "O":
        return ("O", node[1], [(k, _replace_node(v, old, new)) for k, v in node[2]])
    return node


def to_python(node):
    """A parsed node as plain Python (for ``wp option get --format=json``)."""
    kind = node[0]
    if kind == "s":
        return node[1].decode("utf-8", "replace")
    if kind == "raw":
        raw = node[1]
        if raw == b"N;":
            return None
        tag, value = raw[:1], raw[2:-1].decode()
        if tag == b"b":
            return value == "1"
        if tag == b"i":
            return int(value)
        return float(value)
    items = node[1] if kind == "a" else node[2]
    pairs = [(to_python(k), to_python(v)) for k, v in items]
    if kind == "a" and [k for k, _value in pairs] == list(range(len(pairs))):
        return [v for _key, v in pairs]
    return {str(k): v for k, v in pairs}
