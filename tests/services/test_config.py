"""DesktopConfig: JSON in config_dir, atomic, tolerant of damaged or foreign files, never a secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cmdesk.services.config import DesktopConfig, config_path, load_config, save_config


def test_defaults_when_there_is_no_file(home: Path) -> None:
    assert load_config() == DesktopConfig(server_url=None, last_login=None, sync_interval_seconds=60)


def test_round_trip(home: Path) -> None:
    cfg = DesktopConfig(
        server_url="https://cm.example.mx", last_login="ana@example.mx", sync_interval_seconds=120
    )
    path = save_config(cfg)
    assert path == home / "config" / "config.json" == config_path()
    assert load_config() == cfg
    assert json.loads(path.read_text(encoding="utf-8")) == {
        **DesktopConfig().to_json(),  # the other settings' defaults (downloads…)
        "server_url": "https://cm.example.mx",
        "last_login": "ana@example.mx",
        "sync_interval_seconds": 120,
    }
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left


def test_saving_again_replaces_the_file(home: Path) -> None:
    save_config(DesktopConfig(server_url="https://a.mx"))
    save_config(DesktopConfig(server_url=None, last_login="5512345678"))
    assert load_config() == DesktopConfig(server_url=None, last_login="5512345678")


def test_a_damaged_file_gives_defaults_and_is_kept_aside(home: Path) -> None:
    path = config_path()
    path.write_text('{"server_url": "https://cm', encoding="utf-8")
    assert load_config() == DesktopConfig()
    assert (path.parent / "config.json.damaged").read_text(encoding="utf-8").startswith("{")
    assert not path.exists()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], DesktopConfig()),
        ({"server_url": 3, "last_login": ["x"], "sync_interval_seconds": "60"}, DesktopConfig()),
        ({"server_url": "  ", "last_login": ""}, DesktopConfig()),
        ({"sync_interval_seconds": True}, DesktopConfig()),
        ({"sync_interval_seconds": 1}, DesktopConfig(sync_interval_seconds=10)),
        ({"sync_interval_seconds": 10**9}, DesktopConfig(sync_interval_seconds=86400)),
        (
            {"server_url": " https://cm.mx ", "future_option": {"a": 1}, "refresh_token": "x"},
            DesktopConfig(server_url="https://cm.mx"),
        ),
    ],
)
def test_wrong_values_fall_back_to_defaults(home: Path, data: object, expected: DesktopConfig) -> None:
    config_path().write_text(json.dumps(data), encoding="utf-8")
    assert load_config() == expected


def test_a_failed_write_keeps_the_previous_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_config(DesktopConfig(server_url="https://viejo.mx"))

    def broken(_src: object, _dst: object) -> None:
        raise OSError("disco lleno")

    with monkeypatch.context() as patch, pytest.raises(OSError):
        patch.setattr("cmdesk.services.config.os.replace", broken)
        save_config(DesktopConfig(server_url="https://nuevo.mx"))
    assert load_config().server_url == "https://viejo.mx"
    assert sorted(p.name for p in config_path().parent.iterdir()) == ["config.json"]


def test_a_briefly_locked_file_is_retried(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace
    failures = [PermissionError("en uso")]

    def flaky(src: str, dst: str) -> None:
        if failures:
            raise failures.pop()
        real(src, dst)

    monkeypatch.setattr("cmdesk.services.config.os.replace", flaky)
    save_config(DesktopConfig(last_login="luz@example.mx"))
    assert load_config().last_login == "luz@example.mx"


def test_an_explicit_path(tmp_path: Path) -> None:
    path = tmp_path / "otra" / "config.json"
    save_config(DesktopConfig(sync_interval_seconds=300), path)
    assert load_config(path).sync_interval_seconds == 300
