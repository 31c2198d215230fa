"""The prescriber prints the ordonnance: the QR on it reads back the EPU, the text has each line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.domain import epu_id
from app.qr.decode import find_qr_texts
from tests.conftest import Tokens
from tests.scenarios.workflow_steps import new_prescription

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils missing")


def test_prescriber_gets_a_pdf_whose_qr_and_text_match_the_prescription(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    epu = new_prescription(client, tokens, "prescription-ald-renouvelable")

    response = client.get(f"/epu/{epu}/ordonnance.pdf", headers=tokens.prescriber())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "ordonnance.pdf"
    pdf.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    for expected in ("4548-4", "2160-0", "9318-7", "3016-3", epu_id.grouped(epu), "Lefèvre"):
        assert expected in text
    assert "Quintrelle" not in text  # no patient identity from the gateway
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)  # fmt: skip
    page = next(tmp_path.glob("page*.png"))
    assert find_qr_texts(page.read_bytes()) == [f"EPU:{epu}"]


def test_only_its_prescriber_may_print_it(client: TestClient, tokens: Tokens) -> None:
    epu = new_prescription(client, tokens)
    assert client.get(f"/epu/{epu}/ordonnance.pdf", headers=tokens.lab()).status_code == 403
    assert (
        client.get(
            f"/epu/{epu}/ordonnance.pdf", headers=tokens.prescriber("10109876543")
        ).status_code
        == 404
    )
