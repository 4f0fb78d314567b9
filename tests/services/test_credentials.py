"""CredentialStore: refresh tokens in the OS keyring, or a clear Spanish refusal where none exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from keyring.backends import chainer, fail, null

from cmdesk.services.credentials import (
    MAX_SECRET_BYTES,
    CredentialStore,
    CredentialStoreUnavailable,
    SecretTooLarge,
    local_secret_service,
    service_name,
)
from tests.services.conftest import MemoryKeyring

URL = "https://cm.example.mx"


class BrokenKeyring(MemoryKeyring):
    """A backend that exists but errors (a locked or damaged store)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise OSError("Acceso denegado")

    def get_password(self, service: str, username: str) -> str | None:
        raise OSError("Acceso denegado")

    def delete_password(self, service: str, username: str) -> None:
        raise OSError("Acceso denegado")


def test_save_load_delete(memory_keyring: MemoryKeyring) -> None:
    store = CredentialStore()
    assert store.available()
    assert store.load_refresh_token(URL, "ana@example.mx") is None

    store.save_refresh_token(URL, "ana@example.mx", "token-1")
    store.save_refresh_token(URL, "ana@example.mx", "token-2")  # replaces

    assert store.load_refresh_token(URL, "ana@example.mx") == "token-2"
    assert store.load_refresh_token(URL + "/", "ANA@example.mx ") == "token-2"  # same server, same login
    assert store.load_refresh_token("https://otro.example.mx", "ana@example.mx") is None
    assert store.load_refresh_token(URL, "luz@example.mx") is None
    assert memory_keyring.values == {("cmdesk:https://cm.example.mx", "ana@example.mx"): "token-2"}

    store.delete(URL, "ana@example.mx")
    assert store.load_refresh_token(URL, "ana@example.mx") is None
    store.delete(URL, "ana@example.mx")  # nothing saved: fine


def test_a_fixed_backend(memory_keyring: MemoryKeyring) -> None:
    own = MemoryKeyring()
    store = CredentialStore(own)
    store.save_refresh_token("embedded", "demo@cmdesk.mx", "t")
    assert own.values == {("cmdesk:embedded", "demo@cmdesk.mx"): "t"}
    assert memory_keyring.values == {}


def test_the_fail_backend_is_unavailable(no_keyring: None) -> None:
    store = CredentialStore()
    assert store.available() is False
    with pytest.raises(CredentialStoreUnavailable) as caught:
        store.save_refresh_token(URL, "ana@example.mx", "token")
    assert str(caught.value).startswith("No hay un almacén seguro de contraseñas en este equipo")
    assert store.load_refresh_token(URL, "ana@example.mx") is None
    store.delete(URL, "ana@example.mx")


@pytest.mark.parametrize(
    "backend",
    [null.Keyring(), fail.Keyring()],  # type: ignore[no-untyped-call]
    ids=["null", "fail"],
)
def test_backends_that_keep_nothing_are_unavailable(backend: object) -> None:
    assert CredentialStore(backend).available() is False  # type: ignore[arg-type]


def test_a_chainer_is_as_good_as_its_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = chainer.ChainerBackend()  # type: ignore[no-untyped-call]
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert CredentialStore(empty).available() is False
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [fail.Keyring(), MemoryKeyring()])  # type: ignore[no-untyped-call]
    assert CredentialStore(empty).available() is True


def test_a_backend_that_errors_is_unavailable_when_saving() -> None:
    store = CredentialStore(BrokenKeyring())
    with pytest.raises(CredentialStoreUnavailable) as caught:
        store.save_refresh_token(URL, "ana@example.mx", "token")
    assert "almacén seguro" in str(caught.value)
    assert store.load_refresh_token(URL, "ana@example.mx") is None
    store.delete(URL, "ana@example.mx")  # logged, not raised


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        ("a" * (MAX_SECRET_BYTES // 2), True),  # 2,560 bytes as UTF-16: the Windows limit
        ("a" * (MAX_SECRET_BYTES // 2 + 1), False),
        ("a" * 3000, False),
        ("ñ" * 1280, True),
    ],
)
def test_values_over_the_windows_limit_are_refused(
    memory_keyring: MemoryKeyring, value: str, fits: bool
) -> None:
    store = CredentialStore()
    if fits:
        store.save_refresh_token(URL, "ana@example.mx", value)
        assert store.load_refresh_token(URL, "ana@example.mx") == value
    else:
        with pytest.raises(SecretTooLarge) as caught:
            store.save_refresh_token(URL, "ana@example.mx", value)
        assert isinstance(caught.value, CredentialStoreUnavailable)
        assert "demasiado grande" in str(caught.value)
        assert memory_keyring.values == {}


def test_service_names() -> None:
    assert service_name("HTTPS://CM.Example.mx:443/") == "cmdesk:https://cm.example.mx"
    assert service_name("https://u:secreto@cm.example.mx") == "cmdesk:https://cm.example.mx"
    assert service_name("embedded") == "cmdesk:embedded"


# ---- local secrets (the cache's sealing key, the embedded server's signing key) --------------------


def test_a_local_secret_lives_in_the_keyring(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    store, fallback = CredentialStore(), tmp_path / "keys" / "k.key"
    first = store.local_secret("k", fallback)
    assert first.in_keyring and len(first.value) >= 43
    assert store.local_secret("k", fallback) == first  # made once
    assert memory_keyring.values[(local_secret_service("k"), "clave")] == first.value
    assert not fallback.exists()
    assert store.local_secret("other", fallback).value != first.value


def test_a_local_secret_adopts_a_value_moved_from_elsewhere(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    store, fallback = CredentialStore(), tmp_path / "k.key"
    assert store.local_secret("k", fallback, adopt="antes").value == "antes"
    # Once kept, a later `adopt` changes nothing.
    assert store.local_secret("k", fallback, adopt="otra").value == "antes"


def test_without_a_keyring_a_local_secret_is_a_file_only_the_user_reads(
    no_keyring: None, tmp_path: Path
) -> None:
    store, fallback = CredentialStore(), tmp_path / "keys" / "k.key"
    first = store.local_secret("k", fallback)
    assert not first.in_keyring and fallback.read_text() == first.value
    if os.name != "nt":
        assert fallback.stat().st_mode & 0o777 == 0o600
        assert fallback.parent.stat().st_mode & 0o777 == 0o700
    assert store.local_secret("k", fallback) == first


def test_a_keyring_that_errors_falls_back_to_the_file(tmp_path: Path) -> None:
    kept = CredentialStore(BrokenKeyring()).local_secret("k", tmp_path / "k.key")
    assert not kept.in_keyring and (tmp_path / "k.key").read_text() == kept.value


def test_a_secret_kept_in_a_file_moves_into_the_keyring_once_there_is_one(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    fallback = tmp_path / "k.key"
    in_file = CredentialStore(fail.Keyring()).local_secret("k", fallback)  # type: ignore[no-untyped-call]
    moved = CredentialStore().local_secret("k", fallback)
    assert moved.in_keyring and moved.value == in_file.value
    assert not fallback.exists()
