"""`epu scan IMAGE` prints the EPU ID found in a photo, or says why none was found."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from PIL import Image

from app.domain import epu_id
from app.qr.encode import qr_png


def run_scan(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "scan", str(path)], capture_output=True, text=True
    )


def test_prints_the_epu_of_a_photo(tmp_path: Path) -> None:
    epu = epu_id.generate()
    page = Image.new("L", (1200, 900), 240)
    page.paste(Image.open(io.BytesIO(qr_png(epu, scale=5))), (400, 300))
    photo = tmp_path / "photo.jpg"
    page.save(photo, "JPEG", quality=60)

    result = run_scan(photo)

    assert (result.returncode, result.stdout.strip()) == (0, epu)


def test_says_why_when_there_is_no_code(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(blank)

    result = run_scan(blank)

    assert result.returncode == 1
    assert "QR" in result.stderr


def test_says_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    result = run_scan(tmp_path / "missing.png")
    assert result.returncode == 2 and "cannot read" in result.stderr
