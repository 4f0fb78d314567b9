"""CredentialStore: refresh tokens in the OS keyring, or a clear Spanish refusal where none exists."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import chainer, fail, null

from cmdesk.services.credentials import (
    MAX_SECRET_BYTES,
    CredentialStore,
    CredentialStoreUnavailable,
    SecretTooLarge,
    service_name,
)
from tests.services.conftest import MemoryKeyring

URL = "https://cm.example.mx"


@pytest.fixture
def failing_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


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


def test_the_fail_backend_is_unavailable(failing_keyring: None) -> None:
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
