"""File names and versions of the Software catalog, as the server stores them and the desktop saves them.

- `safe_file_name`: a name every file system accepts (Windows included): no folders, none of the
  characters Windows forbids, no reserved device names, at most `FILE_NAME_MAX_LENGTH` characters.
- `version_key`: versions in the order people read them (10.2.1 > 10.2 > 9.9.9, 1.10 > 1.9, and a
  pre-release before its release: 2.0-beta < 2.0).
"""

from __future__ import annotations

import re

from cmdesk.domain.errors import validation_error

# Characters Windows forbids in file names, and the ASCII control characters.
_UNSAFE_CHARS_RE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED_STEMS = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
FILE_NAME_MAX_LENGTH = 150
FALLBACK_NAME = "archivo"


def safe_file_name(name: str, *, strict: bool = False) -> str:
    """`name` as a plain file name: the part after the last folder separator, cleaned. A name with
    nothing left is `FALLBACK_NAME`, or with `strict` (the server, publishing) a validation error."""
    base = re.split(r"[\\/]", name)[-1] if not strict else name
    cleaned = _UNSAFE_CHARS_RE.sub("_", base).strip().rstrip(". ")
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    if stem.split(".")[0].upper() in _RESERVED_STEMS:
        stem = "_" + stem
    ext = ext[:20]
    stem = stem[: FILE_NAME_MAX_LENGTH - len(ext) - 1] if ext else stem[:FILE_NAME_MAX_LENGTH]
    result = f"{stem}.{ext}" if ext else stem
    if not result.strip("._ "):
        if strict:
            raise validation_error({"source": "El nombre del archivo no es válido."})
        return FALLBACK_NAME
    return result


def version_key(value: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key of a version text. Parts are tagged — 2 for a number, 0 for text, 1 for the end — so
    a number is never compared with text and text sorts below the end of a shorter version."""
    parts = re.findall(r"\d+|[A-Za-z]+", value)
    key: list[tuple[int, int | str]] = [(2, int(p)) if p.isdigit() else (0, p.lower()) for p in parts]
    return (*key, (1, ""))
