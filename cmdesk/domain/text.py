"""Text as Spanish readers match and sort it: case and accents ignored, ñ right after n."""

from __future__ import annotations

import re
import unicodedata

_COMBINING = re.compile("[\u0300-\u036f]")


def fold(text: str | None) -> str:
    """Text for matching: lower case, without accents (`José Peña` → `jose pena`)."""
    if not text:
        return ""
    text = text.casefold()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def sort_key(text: str | None) -> str:
    """Text for sorting names as Spanish does: like `fold`, but ñ right after n (`Ñandú` after `Nube`)."""
    if not text:
        return ""
    return fold(text.replace("ñ", "n~").replace("Ñ", "n~"))
