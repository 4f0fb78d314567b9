"""A download into a folder whose disk fills up stops with a Spanish reason, publishes nothing
damaged, and completes once there is room again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdesk.services.api_client import ApiClient
from cmdesk.services.downloads import DownloadManager, FileInfo
from cmdesk.services.downloads.models import MSG_NO_SPACE, DownloadError
from tests.services.downloads.conftest import quick_store
from tests.services.small_disk import SmallDisk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "software", size_mb=8)
    if not small.mounted:
        pytest.skip("a real small disk needs root (mount -t tmpfs)")
    try:
        yield small
    finally:
        small.close()


def test_a_full_disk_stops_the_download_and_it_resumes_when_there_is_room(
    tmp_path: Path, disk: SmallDisk, api_via_proxy: ApiClient, published: dict[str, FileInfo]
) -> None:
    info = published["small"]  # 1 MB
    manager = DownloadManager(api_via_proxy, quick_store(disk.folder / "store"), queue_path=tmp_path / "q.sqlite3")
    try:
        disk.fill(300 * 1024)
        with pytest.raises(DownloadError) as failed:
            manager.fetch(info)
        assert str(failed.value) == MSG_NO_SPACE
        assert not list((disk.folder / "store").rglob(info.file_name))  # nothing damaged published
        disk.free()
        path = manager.fetch(info)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256
    finally:
        manager.shutdown()
