"""The HTML report in a real headless Chromium: it renders, and the page holds its parts."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from faultgraph.report import incident_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`; `make test` installs it when it can)"
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _png_pixels(path: Path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


def test_report_renders_in_chromium(tmp_path):
    result = incident_demo(tmp_path / "demo")
    url = result.report_html.resolve().as_uri()
    profile = tmp_path / "profile"
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1100,1600",
                    f"--screenshot={shot}", url], check=True, capture_output=True, timeout=120)
    pixels = _png_pixels(shot)
    assert len(set(pixels)) > 50, "the screenshot is blank"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    for part in ('id="graph"', 'id="ranking"', 'id="timeline"', "path-edge", result.injected_metric):
        assert part in dom
