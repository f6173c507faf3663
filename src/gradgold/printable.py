"""One escaping function for everything gradgold prints that a golden or a file name supplied.

A golden's metadata strings and the names of files under the golden directory arrive in pull
requests from anyone. Printed as they are, a control character (an ANSI escape, a carriage
return, a backspace) can rewrite what the terminal shows, e.g. an orphan named
``\\r\\x1b[2Kall goldens are fresh``. :func:`printable` shows every such character as a visible
Python-style escape instead, so what the reader sees is what the bytes are.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]

# Unicode format characters that reorder or hide text (bidirectional overrides, zero-width
# joiners...) are as misleading as C0/C1 control characters; both are escaped.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def printable(text: object, keep_newlines: bool = False) -> str:
    """``str(text)`` with each control or format character shown as ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN``; a backslash is kept as it is. ``keep_newlines`` keeps ``\\n`` (for messages
    gradgold itself lays out on several lines); every other control character is escaped."""
    out = []
    for ch in str(text):
        if (ch == "\n" and keep_newlines) or unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
            out.append(ch)
            continue
        code = ord(ch)
        width = 2 if code < 0x100 else 4 if code < 0x10000 else 8
        out.append(f"\\{'x' if width == 2 else 'u' if width == 4 else 'U'}{code:0{width}x}")
    return "".join(out)
