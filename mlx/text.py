"""Text from outside (artifact names, listings) made safe to print on a terminal."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the format characters that reorder or hide text on a
# terminal (bidirectional overrides, zero-width joiners): printed raw they can move the
# cursor, rewrite earlier lines or disguise a name.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def printable(text: str) -> str:
    """``text`` with every control or invisible formatting character escaped (``\\x1b``,
    ``\\u202e``); anything else, including letters of every script, is left as it is."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
