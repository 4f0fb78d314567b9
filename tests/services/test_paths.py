"""Folders: CMDESK_HOME replaces the platformdirs roots; server keys are stable and Windows-safe."""

from __future__ import annotations

import re
from pathlib import Path

import platformdirs
import pytest

from cmdesk.services import paths

# Names Windows refuses, and characters no Windows file name may hold.
_WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def test_cmdesk_home_replaces_every_root(home: Path) -> None:
    assert paths.data_dir() == home / "data"
    assert paths.log_dir() == home / "logs"
    assert paths.config_dir() == home / "config"
    assert paths.server_dir(paths.EMBEDDED_KEY) == home / "data" / "servers" / "embedded"
    for folder in (paths.data_dir(), paths.log_dir(), paths.config_dir(), paths.server_dir("embedded")):
        assert folder.is_dir()


def test_a_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CMDESK_HOME", "portable")
    assert paths.data_dir() == tmp_path / "portable" / "data"


def test_without_home_the_local_platformdirs_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMDESK_HOME", raising=False)
    seen: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    def fake(kind: str):
        def call(*args: object, **kw: object) -> Path:
            seen.append((kind, args, kw))
            return tmp_path / kind

        return call

    monkeypatch.setattr(platformdirs, "user_data_path", fake("data"))
    monkeypatch.setattr(platformdirs, "user_log_path", fake("log"))
    monkeypatch.setattr(platformdirs, "user_config_path", fake("config"))
    assert paths.data_dir() == tmp_path / "data"
    assert paths.log_dir() == tmp_path / "log"
    assert paths.config_dir() == tmp_path / "config"
    assert seen[0] == ("data", ("cmdesk", "Induxsoft"), {"roaming": False})
    assert seen[2] == ("config", ("cmdesk", "Induxsoft"), {"roaming": False})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://cm.example.mx", "https://cm.example.mx/"),
        ("https://cm.example.mx", "HTTPS://CM.Example.MX:443"),
        ("http://cm.example.mx:80/", "http://cm.example.mx"),
        ("https://cm.example.mx/api", "https://cm.example.mx/api/"),
        ("  https://cm.example.mx  ", "https://cm.example.mx"),
    ],
)
def test_server_key_is_stable_for_the_same_server(a: str, b: str) -> None:
    assert paths.server_key(a) == paths.server_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://cm.example.mx", "http://cm.example.mx"),
        ("https://cm.example.mx", "https://cm.example.mx:8443"),
        ("https://cm.example.mx/a", "https://cm.example.mx/b"),
        ("https://a.example.mx", "https://b.example.mx"),
    ],
)
def test_server_key_differs_between_servers(a: str, b: str) -> None:
    assert paths.server_key(a) != paths.server_key(b)


@pytest.mark.parametrize(
    "url",
    [
        "https://cm.example.mx",
        "http://127.0.0.1:8000",
        "http://[::1]:8080/",
        "https://con",
        "https://usuario:clave@cm.example.mx/ruta?x=1#y",
        "https://" + "muy-largo." * 30 + "mx",
        "https://ñandú.mx",
    ],
)
def test_server_key_is_a_windows_safe_folder_name(url: str, home: Path) -> None:
    key = paths.server_key(url)
    assert not _WINDOWS_BAD.search(key) and key.isascii()
    assert not key.endswith((".", " ")) and len(key) <= 60
    assert key.split(".")[0].lower() not in _RESERVED
    assert key != paths.EMBEDDED_KEY
    assert paths.server_dir(key).is_dir()
    assert "clave" not in key  # credentials in the URL never reach the disk


def test_known_key() -> None:
    # The folder must not move between versions: pin one value.
    assert paths.server_key("https://cm.example.mx:8443/") == paths.server_key("https://cm.example.mx:8443")
    assert paths.server_key("https://cm.example.mx:8443") == "cm.example.mx-8443-e8351b87aaf8"
    assert paths.server_key("https://ñandú.mx").startswith("xn--and-")


@pytest.mark.parametrize("bad", ["", "..", "../x", "a/b", "a\\b", "C:", "x."])
def test_server_dir_refuses_what_is_not_a_key(bad: str, home: Path) -> None:
    with pytest.raises(ValueError):
        paths.server_dir(bad)
