"""The desktop's settings: which server, the last login, how often to sync. JSON in `config_dir()`.

Never a secret: passwords and tokens live in the OS keyring (`credentials`). The file is written
atomically (a temporary file in the same folder, then replaced), so a crash never leaves half a file;
a missing, unreadable or damaged file gives the defaults (a damaged one is kept aside as
`config.json.damaged` for support), and unknown keys are ignored so older and newer versions can share it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmdesk.services.paths import config_dir

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
MIN_SYNC_INTERVAL = 10
MAX_SYNC_INTERVAL = 24 * 60 * 60
DEFAULT_SYNC_INTERVAL = 60
MAX_IMPORT_MAPPINGS = 20


@dataclass
class DesktopConfig:
    # None: the embedded server (the default); otherwise the central server's base URL.
    server_url: str | None = None
    last_login: str | None = None
    sync_interval_seconds: int = DEFAULT_SYNC_INTERVAL
    # Software downloads (cmdesk.services.downloads): the folder (None: this desk's data folder; a
    # shared office folder, e.g. a network share), its size limit in MB (0: none), how many files
    # download at once, and a bandwidth cap in KB/s (0: none).
    software_folder: str | None = None
    software_limit_mb: int = 10240
    download_parallel: int = 2
    download_rate_kbps: int = 0
    # Transferencia desde archivo (cmdesk.services.bulk_import): the column mapping the user chose for
    # each layout of file, by the layout's signature (its column titles), the last one used first.
    import_mappings: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> DesktopConfig:
        """A config from parsed JSON; a value of the wrong type falls back to its default."""
        if not isinstance(data, dict):
            return cls()
        cfg = cls()
        url = data.get("server_url")
        if isinstance(url, str) and url.strip():
            cfg.server_url = url.strip()
        login = data.get("last_login")
        if isinstance(login, str) and login.strip():
            cfg.last_login = login.strip()
        interval = data.get("sync_interval_seconds")
        if isinstance(interval, int) and not isinstance(interval, bool):
            cfg.sync_interval_seconds = min(max(interval, MIN_SYNC_INTERVAL), MAX_SYNC_INTERVAL)
        folder = data.get("software_folder")
        if isinstance(folder, str) and folder.strip():
            cfg.software_folder = folder.strip()
        for name, low, high in (
            ("software_limit_mb", 0, 10**8),
            ("download_parallel", 1, 8),
            ("download_rate_kbps", 0, 10**7),
        ):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(cfg, name, min(max(value, low), high))
        mappings = data.get("import_mappings")
        if isinstance(mappings, dict):
            cfg.import_mappings = {
                str(layout): {str(k): str(v) for k, v in mapping.items() if isinstance(v, str)}
                for layout, mapping in list(mappings.items())[:MAX_IMPORT_MAPPINGS]
                if isinstance(mapping, dict)
            }
        return cfg


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_config(path: Path | None = None) -> DesktopConfig:
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DesktopConfig()
    except OSError as exc:
        log.warning("could not read %s (%s); using defaults", path, exc)
        return DesktopConfig()
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("%s is damaged; using defaults", path)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".damaged"))
        return DesktopConfig()
    return DesktopConfig.from_json(data)


def save_config(cfg: DesktopConfig, path: Path | None = None) -> Path:
    """Write `cfg` atomically; returns the file."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(cfg.to_json(), ensure_ascii=False, indent=2) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def _replace(source: Path, target: Path, attempts: int = 5) -> None:
    # On Windows a reader (or an antivirus scan) holding the target briefly makes the replace fail
    # with PermissionError: wait a moment and try again.
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
