"""Data files shipped with cmdesk (demo catalog and demo data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def resource_path(*parts: str) -> Path:
    """A file under cmdesk/resources, also inside a PyInstaller bundle."""
    base = (
        Path(getattr(sys, "_MEIPASS", "")) / "cmdesk" / "resources"
        if hasattr(sys, "_MEIPASS")
        else Path(__file__).parent
    )
    return base.joinpath(*parts)


def load_json(*parts: str) -> Any:
    return json.loads(resource_path(*parts).read_text(encoding="utf-8"))
