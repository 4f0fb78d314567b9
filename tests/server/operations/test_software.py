"""The software catalog: publishing files into the store, listing, downloads, the demo seed, the feed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cmdesk.domain.errors import DomainError, ErrorCode
from cmdesk.models import ChangeLog, SoftwareFile, SoftwareProduct
from cmdesk.server import db
from cmdesk.server.operations import software
from tests.server.helpers import make_distributor


def _err(fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as e:
        fn(*args, **kw)
    return e.value


def _publish(factory, store, source, **kw):
    values = {
        "product_code": "dominus",
        "product_name": "Dóminus",
        "kind": "installer",
        "title": "Instalador",
        "file_version": "5.1.0",
    }
    values.update(kw)
    return db.run(factory, software.publish_file, store=store, source=source, **values)


def test_publish_copies_hashes_and_is_idempotent(factory, tmp_path):
    store = tmp_path / "store"
    source = tmp_path / "Dominus-setup-5.1.0.exe"
    data = b"MZ" + bytes(range(256)) * 9000
    source.write_bytes(data)
    a = make_distributor(factory)
    b = make_distributor(factory)
    out = _publish(factory, store, source)
    assert out["size"] == len(data) and out["sha256"] == hashlib.sha256(data).hexdigest()
    assert out["file_name"] == "Dominus-setup-5.1.0.exe" and out["kind_label"] == "Instalable"
    view, relative = db.run(factory, software.file_for_download, out["id"])
    assert view == out and not relative.is_absolute()
    assert relative.as_posix() == "dominus/installer/Dominus-setup-5.1.0.exe"
    assert (store / relative).read_bytes() == data
    assert not list((store / "dominus" / "installer").glob("*.part"))
    # The same file again changes nothing; other content under the same name is refused.
    assert _publish(factory, store, source)["id"] == out["id"]
    source.write_bytes(b"otro contenido")
    assert _err(_publish, factory, store, source).code == ErrorCode.DUPLICATE
    assert (store / relative).read_bytes() == data
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(SoftwareFile)) == 1
        assert s.scalar(select(func.count()).select_from(SoftwareProduct)) == 1
        # Global rows: every existing account gets the change.
        for entity, ident in (("software_file", out["id"]), ("software_product", out["product_id"])):
            accounts = s.scalars(
                select(ChangeLog.account_id).where(ChangeLog.entity == entity, ChangeLog.entity_id == ident)
            ).all()
            assert sorted(accounts) == sorted([a.account_id, b.account_id])
        assert software.FEED_LOADERS["software_file"](s, [out["id"]])[out["id"]]["sha256"] == out["sha256"]
        assert (
            software.FEED_LOADERS["software_product"](s, [out["product_id"]])[out["product_id"]]["name"]
            == "Dóminus"
        )


def test_new_accounts_get_the_catalog_in_their_feed(factory, tmp_path):
    source = tmp_path / "x.zip"
    source.write_bytes(b"PK")
    out = _publish(factory, tmp_path / "store", source)
    late = make_distributor(factory)
    with db.transaction(factory) as s:
        software.record_catalog_for_account(s, late.account_id)
    with db.transaction(factory) as s:
        got = set(
            s.execute(
                select(ChangeLog.entity, ChangeLog.entity_id).where(ChangeLog.account_id == late.account_id)
            )
        )
    assert {("software_file", out["id"]), ("software_product", out["product_id"])} <= got


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("setup.exe", "setup.exe"),
        ('a<b>c:d"e|f?g*h.zip', "a_b_c_d_e_f_g_h.zip"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("nombre con espacios .pdf. ", "nombre con espacios .pdf"),
        ("x" * 300 + ".exe", "x" * 146 + ".exe"),
    ],
)
def test_safe_file_name(name, safe):
    assert software.safe_file_name(name) == safe


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"product_code": "Dóminus"}, "product_code"),
        ({"product_code": "a/b"}, "product_code"),
        ({"product_name": ""}, "product_name"),
        ({"kind": "virus"}, "kind"),
        ({"title": " "}, "title"),
        ({"file_version": "../1"}, "file_version"),
    ],
)
def test_publish_validation(factory, tmp_path, kw, field):
    source = tmp_path / "x.zip"
    source.write_bytes(b"PK")
    err = _err(_publish, factory, tmp_path / "store", source, **kw)
    assert err.code == ErrorCode.VALIDATION_ERROR and field in {e.field for e in err.errors}
    err = _err(_publish, factory, tmp_path / "store", tmp_path / "missing.zip")
    assert err.code == ErrorCode.VALIDATION_ERROR


def test_catalog_lists_newest_version_first(factory, tmp_path):
    store = tmp_path / "store"
    for version in ("10.1.8", "10.2.1", "9.9.9", "10.2"):
        source = tmp_path / f"MaxiComercio-ERP-2014-setup-{version}.exe"
        source.write_bytes(version.encode())
        _publish(
            factory,
            store,
            source,
            product_code="maxicomercio-erp-2014",
            product_name="MaxiComercio ERP 2014",
            file_version=version,
        )
    catalog = db.run(factory, software.list_catalog)
    assert [f["file_version"] for f in catalog[0]["files"]] == ["10.2.1", "10.2", "10.1.8", "9.9.9"]
    with db.transaction(factory) as s:
        hidden = s.scalar(select(SoftwareFile).where(SoftwareFile.file_version == "9.9.9"))
        hidden.active = False
        hidden_id = hidden.id
    assert len(db.run(factory, software.list_catalog)[0]["files"]) == 3
    assert _err(db.run, factory, software.file_for_download, hidden_id).code == ErrorCode.NOT_FOUND
    assert _err(db.run, factory, software.file_for_download, "nope").code == ErrorCode.NOT_FOUND


def test_version_key_orders_like_people_read():
    versions = ["1.9", "1.10", "10.2", "10.2.1", "2.0-beta", "2.0"]
    assert sorted(versions, key=software.version_key) == ["1.9", "1.10", "2.0-beta", "2.0", "10.2", "10.2.1"]


def test_demo_seed_is_deterministic_realistic_and_idempotent(factory, tmp_path):
    store = tmp_path / "store"
    first = db.run(factory, software.seed_demo_software, store, 7)
    catalog = db.run(factory, software.list_catalog)
    names = [p["name"] for p in catalog]
    for expected in (
        "MaxiComercio ERP 2014",
        "FactuDesk 2014",
        "NomiCloud",
        "Dóminus",
        "Contablink",
        "CFDI Explorer",
        "MaxiComercio Pequeños Negocios",
    ):
        assert expected in names
    assert any(n.startswith("cmdesk") for n in names)
    assert all(len(p["files"]) >= 2 for p in catalog)
    assert all(1_000_000 <= f["size"] <= 6_000_000 for f in first)
    assert "MaxiComercio-ERP-2014-setup-10.2.1.exe" in {f["file_name"] for f in first}
    kinds = {f["kind"] for f in first}
    assert {"installer", "fix", "documentation", "tool"} <= kinds
    for f in first[:3]:
        _view, relative = db.run(factory, software.file_for_download, f["id"])
        path = store / relative
        assert path.stat().st_size == f["size"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
        assert path.read_bytes().startswith(b"CMDESK DEMO FILE - NOT A REAL INSTALLER")
    # Again: nothing new; a file lost from the store is put back identical.
    lost = store / db.run(factory, software.file_for_download, first[0]["id"])[1]
    lost.unlink()
    again = db.run(factory, software.seed_demo_software, store, 7)
    assert [f["id"] for f in again] == [f["id"] for f in first]
    assert hashlib.sha256(lost.read_bytes()).hexdigest() == first[0]["sha256"]


def test_demo_seed_depends_on_the_seed(factory, tmp_path):
    small = (1000, 2000)
    a = db.run(factory, software.seed_demo_software, tmp_path / "a", 1, sizes=small)
    with db.transaction(factory) as s:
        for model in (SoftwareFile, SoftwareProduct):
            for row in s.scalars(select(model)):
                s.delete(row)
    b = db.run(factory, software.seed_demo_software, tmp_path / "b", 1, sizes=small)
    c_store = tmp_path / "c"
    assert [f["sha256"] for f in a] == [f["sha256"] for f in b]
    with db.transaction(factory) as s:
        for model in (SoftwareFile, SoftwareProduct):
            for row in s.scalars(select(model)):
                s.delete(row)
    c = db.run(factory, software.seed_demo_software, c_store, 2, sizes=small)
    assert [f["sha256"] for f in a] != [f["sha256"] for f in c]
    assert Path(c_store).is_dir()
