"""At the lab desk, in a real browser: the receptionist signs in with the lab's token, types the
code from the paper (with a typo first), sends a photo of the QR, claims the prescription and marks
an exam done; a second lab is told the prescription is already taken."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from app.config import Settings
from app.domain import epu_id
from app.qr.encode import qr_png
from app.security.local_issuer import issue_token
from tests.conftest import LAB, OTHER_LAB, PRESCRIBER_RPPS, example
from tests.gateway_process import free_port, gateway_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need the playwright package (dev extras)"
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
TIMEOUT_MS = 10_000
FHIR_JSON = {"Content-Type": "application/fhir+json"}


class Gateway:
    """The real gateway in a subprocess, on SQLite in a temporary data directory."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.settings = Settings(data_dir=data_dir, database_url=None, public_base_url=self.url)

    def token(self, role: str, **claims: Any) -> str:
        return issue_token(self.settings, role, **claims)

    def prescribe(self, name: str) -> str:
        bundle = example(name)
        headers = {"Authorization": f"Bearer {self.token('prescriber', rpps=PRESCRIBER_RPPS)}"}
        response = httpx.post(
            f"{self.url}/fhir", json=bundle, headers={**headers, **FHIR_JSON}, timeout=10
        )
        assert response.status_code == 201, response.text
        return str(response.json()["identifier"]["value"])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gateway") / "data"
    port = free_port()
    served = Gateway(data_dir, port)
    served.token("lab", lab=LAB)  # makes the issuer's key before the server reads it
    environment = {"EPU_DATA_DIR": str(data_dir), "EPU_PUBLIC_BASE_URL": served.url}
    with gateway_process(environment, data_dir.parent / "gateway.log", port):
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # A fresh context is an empty profile: no sessionStorage from another test.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: problems.append(str(e)))
    opened.problems = problems
    yield opened
    context.close()


def sign_in(page: Any, gateway: Gateway, lab: str) -> None:
    page.goto(f"{gateway.url}/reception")
    page.get_by_label("Jeton du laboratoire").fill(gateway.token("lab", lab=lab))
    page.get_by_role("button", name="Se connecter").click()
    expect = playwright_api.expect
    expect(page.locator("#session-lab")).to_contain_text(f"Laboratoire {lab}")
    expect(page.locator("#code")).to_be_focused()


def with_one_character_wrong(epu: str) -> str:
    """The code with its 10th character replaced: the check character catches it."""
    wrong = next(c for c in epu_id.ALPHABET if c != epu[9])
    return epu[:9] + wrong + epu[10:]


def photo_of_paper(epu: str) -> bytes:
    """The QR code on a larger grey page, as a desk photo of the ordonnance."""
    code = Image.open(io.BytesIO(qr_png(epu, scale=6))).convert("RGB")
    paper = Image.new("RGB", (1200, 900), (228, 228, 222))
    paper.paste(code, (420, 260))
    buffer = io.BytesIO()
    paper.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_the_receptionist_finds_claims_and_marks_a_prescription(
    page: Any, gateway: Gateway, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    epu = gateway.prescribe("prescription-prolactine")
    sign_in(page, gateway, LAB)
    code = page.locator("#code")
    hint = page.locator("#code-hint")

    # She types the code from the paper, lower case, without hyphens, one character wrong.
    code.press_sequentially(with_one_character_wrong(epu).lower()[:8])
    expect(code).to_have_value(epu_id.grouped(with_one_character_wrong(epu))[:9])
    expect(hint).to_have_text("Code incomplet : 8 caractères sur 18")
    code.press_sequentially(with_one_character_wrong(epu).lower()[8:])
    expect(hint).to_contain_text("Caractère de contrôle incorrect : code probablement mal saisi")
    code.press("Enter")
    expect(page.locator("#message")).to_contain_text("Caractère de contrôle incorrect")
    expect(page.locator("#prescription")).to_be_hidden()

    # Escape clears the field; she types it right, with O for 0 as people do.
    code.press("Escape")
    expect(code).to_have_value("")
    expect(code).to_be_focused()
    code.press_sequentially(epu_id.grouped(epu).replace("0", "O"))
    expect(hint).to_contain_text("Code valide")
    code.press("Enter")
    prescription = page.locator("#prescription")
    expect(prescription).to_be_visible()
    expect(page.locator("#rx-code")).to_have_text(epu_id.grouped(epu))
    for label, loinc in (("Prolactine", "2842-3"), ("TSH", "3016-3")):
        line = page.locator(".line", has_text=label).first
        expect(line).to_contain_text(f"LOINC {loinc}")
    expect(page.locator(".line", has_text="anticorps anti-récepteurs")).to_contain_text(
        "Texte libre"
    )
    expect(prescription).to_contain_text("Date des dernières règles : 02/11/2026")
    expect(prescription).to_contain_text("Prélèvement le matin, au repos depuis 20 minutes")
    expect(prescription).to_contain_text("Femme, née en juillet 1984")
    expect(prescription).to_contain_text("Dr Claire Lefèvre")
    expect(prescription).to_contain_text("0299000000")
    expect(page.locator("#rx-status")).to_have_text("État : À prendre en charge")

    # A photo of the paper finds the same prescription.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(prescription).to_be_hidden()
    photo = tmp_path / "ordonnance.jpg"
    photo.write_bytes(photo_of_paper(epu))
    page.locator("#photo").set_input_files(photo)
    expect(page.locator("#rx-code")).to_have_text(epu_id.grouped(epu))
    expect(page.locator(".line", has_text="Prolactine")).to_contain_text("LOINC 2842-3")

    # She claims it, then marks the prolactin sample taken and done.
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.locator("#rx-status")).to_have_text("État : Prise en charge par votre laboratoire")
    expect(page.locator("#message")).to_contain_text("prise en charge par votre laboratoire")
    expect(code).to_be_focused()
    prolactin = page.locator(".line", has_text="Prolactine")
    prolactin.get_by_role("button", name="Prélevé").click()
    expect(prolactin.locator(".line-status")).to_have_text("Prélevé")
    prolactin.get_by_role("button", name="Fait").click()
    expect(prolactin.locator(".line-status")).to_have_text("Fait")
    expect(page.locator("#rx-status")).to_have_text(
        "État : Prise en charge par votre laboratoire · 1 examen fait sur 3"
    )
    expect(page.locator(".line", has_text="LOINC 3016-3").locator(".line-status")).to_have_text(
        "À prélever"
    )

    screenshot = tmp_path / "reception.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    shot_dir = os.environ.get("EPU_SCREENSHOT_DIR")
    if shot_dir:
        Path(shot_dir).mkdir(parents=True, exist_ok=True)
        (Path(shot_dir) / "reception.png").write_bytes(screenshot.read_bytes())
    seen = page.locator("body").inner_text()
    for words in (
        "Prolactine",
        "TSH",
        "LOINC 2842-3",
        "Prise en charge",
        "Fait",
        "Date des dernières règles",
    ):
        assert words in seen
    assert page.problems == []


def test_a_second_lab_is_told_it_is_already_taken(page: Any, gateway: Gateway) -> None:
    expect = playwright_api.expect
    epu = gateway.prescribe("prescription-bilan-a-jeun")
    headers = {"Authorization": f"Bearer {gateway.token('lab', lab=LAB)}", **FHIR_JSON}
    claim = {
        "resourceType": "Parameters",
        "parameter": [{"name": "epu", "valueString": epu}],
    }
    taken = httpx.post(f"{gateway.url}/fhir/Task/$claim", json=claim, headers=headers, timeout=10)
    assert taken.status_code == 200, taken.text
    sign_in(page, gateway, OTHER_LAB)

    page.locator("#code").fill(f"EPU:{epu}")
    page.locator("#code").press("Enter")

    expect(page.locator("#message")).to_contain_text("déjà pris en charge par un autre laboratoire")
    expect(page.get_by_role("button", name="Prendre en charge")).to_be_hidden()
    expect(page.locator(".line", has_text="Glycémie à jeun")).to_contain_text(
        "À jeun depuis 12 heures"
    )
    assert page.problems == []


def test_an_unknown_code_and_an_unreadable_photo_are_explained(
    page: Any, gateway: Gateway, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    sign_in(page, gateway, LAB)
    unknown = "01" + uuid.uuid4().hex.upper().translate(str.maketrans("ILOU", "1100"))[:15]
    unknown += epu_id.check_character(unknown)

    page.locator("#code").fill(unknown)
    page.locator("#code").press("Enter")
    expect(page.locator("#message")).to_contain_text("Aucune ordonnance ne correspond à ce code")

    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), (250, 250, 250)).save(blank)
    page.locator("#photo").set_input_files(blank)
    expect(page.locator("#message")).to_contain_text("Aucun QR code lisible sur la photo")


def test_a_line_changed_elsewhere_is_reloaded_and_explained(page: Any, gateway: Gateway) -> None:
    expect = playwright_api.expect
    epu = gateway.prescribe("prescription-prolactine")
    sign_in(page, gateway, LAB)
    page.locator("#code").fill(epu)
    page.locator("#code").press("Enter")
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.locator("#rx-status")).to_contain_text("Prise en charge par votre laboratoire")

    # Another desk of the same lab marks the TSH sample taken meanwhile.
    headers = {"Authorization": f"Bearer {gateway.token('lab', lab=LAB)}", **FHIR_JSON}
    bundle = httpx.get(
        f"{gateway.url}/fhir/ServiceRequest?requisition={epu}&_revinclude=Task:focus",
        headers=headers, timeout=10,
    ).json()  # fmt: skip
    found = [entry["resource"] for entry in bundle["entry"]]
    tsh = next(r for r in found if r.get("code", {}).get("coding", [{}])[0].get("code") == "3016-3")
    task = next(
        r for r in found if r.get("focus", {}).get("reference") == f"ServiceRequest/{tsh['id']}"
    )
    moved = httpx.put(
        f"{gateway.url}/fhir/Task/{task['id']}", json={**task, "status": "in-progress"},
        headers={**headers, "If-Match": f'W/"{task["meta"]["versionId"]}"'}, timeout=10,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text

    line = page.locator(".line", has_text="LOINC 3016-3")
    line.get_by_role("button", name="Prélevé").click()

    expect(page.locator("#message")).to_contain_text("modifié entre-temps")
    expect(line.locator(".line-status")).to_have_text("Prélevé")


def test_refusals_and_outages_are_told_in_her_words(page: Any, gateway: Gateway) -> None:
    expect = playwright_api.expect
    epu = gateway.prescribe("prescription-bilan-a-jeun")
    prescriber = {"Authorization": f"Bearer {gateway.token('prescriber', rpps=PRESCRIBER_RPPS)}"}
    cancel = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "epu", "valueString": epu},
            {"name": "reason", "valueString": "Doublon"},
        ],
    }
    cancelled = httpx.post(
        f"{gateway.url}/fhir/Task/$cancel", json=cancel, headers={**prescriber, **FHIR_JSON},
        timeout=10,
    )  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    sign_in(page, gateway, LAB)
    code = page.locator("#code")
    message = page.locator("#message")

    code.fill(epu)
    code.press("Enter")
    expect(message).to_contain_text("Ordonnance annulée par le prescripteur")
    expect(page.get_by_role("button", name="Prendre en charge")).to_be_hidden()

    too_many = {"status": 429, "headers": {"Retry-After": "240"}, "body": "{}"}
    page.route("**/fhir/ServiceRequest?*", lambda route: route.fulfill(**too_many))
    code.fill(epu)
    code.press("Enter")
    expect(message).to_have_text("Trop d'essais, réessayez dans 4 min.")

    page.unroute("**/fhir/ServiceRequest?*")
    page.route("**/fhir/ServiceRequest?*", lambda route: route.abort())
    code.fill(epu)
    code.press("Enter")
    expect(message).to_contain_text("La passerelle ne répond pas")
