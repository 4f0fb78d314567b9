"""HTTP: the Software catalog and resumable downloads (ETag, ranges, If-Range, If-None-Match, HEAD)."""

from __future__ import annotations

import hashlib
import random

import pytest

from cmdesk.models import SoftwareFile
from cmdesk.server import db
from cmdesk.server.api import software as software_api
from cmdesk.server.operations import software
from tests.server.helpers import make_distributor

PASSWORD = "secreto123"
SIZE = 5_000


@pytest.fixture
def h(factory, client, auth_headers):
    make_distributor(factory, email="uno@dist.mx", mobile="5511111111", password=PASSWORD)
    return auth_headers("uno@dist.mx")


@pytest.fixture
def published(factory, settings, tmp_path, monkeypatch):
    """A few-KB file published into the app's store; served in small chunks so streaming is exercised."""
    monkeypatch.setattr(software_api, "CHUNK_SIZE", 1024)
    data = random.Random(7).randbytes(SIZE)
    source = tmp_path / "Dóminus-setup-5.1.0.exe"
    source.write_bytes(data)
    view = db.run(
        factory, software.publish_file, store=settings.software_store, product_code="dominus",
        product_name="Dóminus", kind="installer", title="Instalador", file_version="5.1.0", source=source,
    )
    return view, data


def _url(view):
    return f"/v1/software/files/{view['id']}"


def test_catalog(client, h, published):
    view, _ = published
    assert client.get("/v1/software").status_code == 401
    r = client.get("/v1/software", headers=h)
    assert r.status_code == 200
    [product] = r.json()["items"]
    assert product["code"] == "dominus" and [f["id"] for f in product["files"]] == [view["id"]]
    assert product["files"][0]["sha256"] == view["sha256"] and product["files"][0]["published_at"].endswith("Z")
    assert r.json()["next_cursor"] is None


def test_full_download_and_headers(client, h, published):
    view, data = published
    assert client.get(_url(view)).status_code == 401
    r = client.get(_url(view), headers=h)
    assert r.status_code == 200 and r.content == data
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    assert r.headers["etag"] == etag == f'"{view["sha256"]}"'
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-length"] == str(SIZE)
    assert r.headers["last-modified"].endswith("GMT")
    assert r.headers["content-type"] == "application/octet-stream"
    assert "filename*=utf-8''D%C3%B3minus-setup-5.1.0.exe" in r.headers["content-disposition"]
    head = client.head(_url(view), headers=h)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(SIZE) and head.headers["etag"] == etag
    r = client.get("/v1/software/files/nope", headers=h)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1000-2999", 1000, 2999),  # the middle
        ("bytes=-100", SIZE - 100, SIZE - 1),  # the last n
        ("bytes=4990-", 4990, SIZE - 1),  # open-ended
        ("bytes=4000-999999", 4000, SIZE - 1),  # past the end: up to the end
        ("bytes=-999999", 0, SIZE - 1),  # a suffix longer than the file: all of it
        ("BYTES = 7-7", 7, 7),
    ],
)
def test_single_ranges(client, h, published, header, first, last):
    view, data = published
    r = client.get(_url(view), headers={**h, "Range": header})
    assert r.status_code == 206, r.text
    assert r.content == data[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert r.headers["content-length"] == str(last - first + 1)
    head = client.head(_url(view), headers={**h, "Range": header})
    assert head.status_code == 206 and head.headers["content-range"] == r.headers["content-range"]


def test_resumed_reads_reassemble_the_file(client, h, published):
    view, _ = published
    etag = f'"{view["sha256"]}"'
    parts, start, step = [], 0, 1_500
    while start < SIZE:
        r = client.get(_url(view), headers={**h, "Range": f"bytes={start}-{start + step - 1}", "If-Range": etag})
        assert r.status_code == 206
        parts.append(r.content)
        start += len(r.content)
    assert hashlib.sha256(b"".join(parts)).hexdigest() == view["sha256"]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
def test_unsatisfiable_range(client, h, published, header):
    view, _ = published
    r = client.get(_url(view), headers={**h, "Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{SIZE}"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "range_not_satisfiable" and r.json()["status"] == 416


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=-", "bytes=" + "9" * 40 + "-"])
def test_ignored_ranges_send_the_whole_file(client, h, published, header):
    view, data = published
    r = client.get(_url(view), headers={**h, "Range": header})
    assert r.status_code == 200 and r.content == data


def test_conditional_requests(client, h, published):
    view, data = published
    etag = f'"{view["sha256"]}"'
    r = client.get(_url(view), headers={**h, "Range": "bytes=0-9", "If-Range": etag})
    assert r.status_code == 206 and r.content == data[:10]
    # The file changed since the client's partial download: it gets the whole file.
    r = client.get(_url(view), headers={**h, "Range": "bytes=0-9", "If-Range": '"otro"'})
    assert r.status_code == 200 and r.content == data and "content-range" not in r.headers
    r = client.get(_url(view), headers={**h, "Range": "bytes=0-9", "If-Range": f"W/{etag}"})
    assert r.status_code == 200
    last_modified = client.head(_url(view), headers=h).headers["last-modified"]
    r = client.get(_url(view), headers={**h, "Range": "bytes=0-9", "If-Range": last_modified})
    assert r.status_code == 206
    for match in (etag, f'"x", {etag}', f"W/{etag}", "*"):
        r = client.get(_url(view), headers={**h, "If-None-Match": match})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag, match
    r = client.get(_url(view), headers={**h, "If-None-Match": '"otro"'})
    assert r.status_code == 200 and r.content == data


def test_missing_inactive_and_empty_files(client, h, published, factory, settings, tmp_path):
    view, _ = published
    empty_source = tmp_path / "vacio.txt"
    empty_source.write_bytes(b"")
    empty = db.run(
        factory, software.publish_file, store=settings.software_store, product_code="dominus",
        product_name="Dóminus", kind="documentation", title="Vacío", file_version="1", source=empty_source,
    )
    r = client.get(_url(empty), headers=h)
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "0"
    r = client.get(_url(empty), headers={**h, "Range": "bytes=0-"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */0"

    (settings.software_store / "dominus" / "installer" / view["file_name"]).unlink()
    r = client.get(_url(view), headers=h)
    assert r.status_code == 404 and "no está disponible" in r.json()["detail"]
    with db.transaction(factory) as s:
        s.get(SoftwareFile, empty["id"]).active = False
    assert client.get(_url(empty), headers=h).status_code == 404
