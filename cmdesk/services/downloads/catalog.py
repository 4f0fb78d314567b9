"""Reading the Software catalog for downloads: which file a newer one replaces.

A file is *superseded* when the same product publishes a newer version of the same thing: for
installers, any newer installer of the product (the manual's "Instalador" and "Instalador (versión
anterior)"); for the other kinds (fixes, improvements, documentation, tools), a newer version with
the same title (two fixes of different problems replace nothing of each other). Versions compare as
people read them (10.2.1 > 10.2 > 9.9.9; 2.0-beta < 2.0), as the server orders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cmdesk.domain.files import version_key

INSTALLER = "installer"


def _family(f: Mapping[str, Any]) -> tuple[str, str, str]:
    kind = str(f.get("kind") or "")
    title = "" if kind == INSTALLER else str(f.get("title") or "").strip().casefold()
    return str(f.get("product_id") or ""), kind, title


def newer_versions(files: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """`{file id: the newest file that supersedes it}` among active `files` (views or dicts with
    id, product_id, kind, title, file_version, published_at)."""
    newest: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    active = [f for f in files if f.get("active", True)]
    for f in active:
        family = _family(f)
        best = newest.get(family)
        if best is None or _order(f) > _order(best):
            newest[family] = f
    out: dict[str, Mapping[str, Any]] = {}
    for f in active:
        best = newest[_family(f)]
        if best.get("id") != f.get("id") and version_key(str(best.get("file_version") or "")) > version_key(
            str(f.get("file_version") or "")
        ):
            out[str(f["id"])] = best
    return out


def _order(f: Mapping[str, Any]) -> tuple[tuple[tuple[int, int | str], ...], str]:
    return version_key(str(f.get("file_version") or "")), str(f.get("published_at") or "")
