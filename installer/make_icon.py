"""Draw cmdesk's icon from simple shapes and write it as `installer/cmdesk.ico` (Windows: the exe, the
installer and the shortcuts), `installer/cmdesk.png` (256 px) and `cmdesk/resources/cmdesk.png` (the
window icon the app sets at run time).

    python installer/make_icon.py          # rewrite the three files
    python installer/make_icon.py --check  # exit 1 when the files differ from what it would draw

The drawing: a rounded square in Induxsoft-like blue, a white "ledger card" with three lines, and a
green check-stamp circle — no downloaded art. Qt (offscreen) draws each size separately so small sizes
stay crisp; the .ico is written by hand with PNG-compressed entries (the format Windows Vista and
later read), so no image library beyond Qt is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICO = ROOT / "installer" / "cmdesk.ico"
PNG = ROOT / "installer" / "cmdesk.png"
WINDOW_PNG = ROOT / "cmdesk" / "resources" / "cmdesk.png"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

BLUE = "#1F5FA8"
BLUE_DARK = "#15467E"
GREEN = "#2E9E4F"
WHITE = "#FFFFFF"
LINE = "#9DB7D6"


def draw_png(size: int) -> bytes:
    """The icon at `size`×`size` pixels, as PNG bytes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QGuiApplication, QImage, QPainter, QPen

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    s = float(size)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    # Background: a rounded square.
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor(BLUE)))
    p.drawRoundedRect(QRectF(0, 0, s, s), s * 0.18, s * 0.18)
    p.setBrush(QBrush(QColor(BLUE_DARK)))
    p.drawRoundedRect(QRectF(0, s * 0.78, s, s * 0.22), s * 0.18, s * 0.18)
    p.drawRect(QRectF(0, s * 0.78, s, s * 0.11))
    # The ledger card.
    p.setBrush(QBrush(QColor(WHITE)))
    card = QRectF(s * 0.17, s * 0.16, s * 0.56, s * 0.66)
    p.drawRoundedRect(card, s * 0.05, s * 0.05)
    if size >= 24:
        pen = QPen(QColor(LINE))
        pen.setWidthF(max(1.0, s * 0.045))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        for i in range(3):
            y = card.top() + card.height() * (0.25 + 0.2 * i)
            p.drawLine(QPointF(card.left() + s * 0.08, y), QPointF(card.right() - s * 0.08, y))
    # The stamp: a green circle with a white check.
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(QColor(GREEN)))
    center = QPointF(s * 0.70, s * 0.70)
    radius = s * 0.22
    p.drawEllipse(center, radius, radius)
    check = QPen(QColor(WHITE))
    check.setWidthF(max(1.5, s * 0.06))
    check.setCapStyle(Qt.PenCapStyle.RoundCap)
    check.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(check)
    p.drawPolyline(
        [
            QPointF(center.x() - radius * 0.45, center.y() + radius * 0.02),
            QPointF(center.x() - radius * 0.10, center.y() + radius * 0.38),
            QPointF(center.x() + radius * 0.50, center.y() - radius * 0.35),
        ]
    )
    p.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(images: dict[int, bytes]) -> bytes:
    """An .ico holding each PNG (ICONDIR, one ICONDIRENTRY per size, then the PNG data)."""
    sizes = sorted(images)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = images[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def render() -> dict[Path, bytes]:
    images = {size: draw_png(size) for size in ICO_SIZES}
    return {ICO: ico_bytes(images), PNG: images[256], WINDOW_PNG: images[64]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Dibuja el icono de cmdesk.")
    parser.add_argument("--check", action="store_true", help="sólo comprobar que los archivos están al día")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        stale = [str(p) for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
        for path in stale:
            print(f"desactualizado: {path}")
        return 1 if stale else 0
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(ROOT)}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
