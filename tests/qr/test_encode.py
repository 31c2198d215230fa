"""Given an EPU ID, the served QR code holds `EPU:<id>` in the shape section 3 fixes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image
from pyzbar import pyzbar

from app.domain import epu_id
from app.domain.errors import GatewayError
from app.qr.encode import qr_code, qr_png, qr_svg


def test_png_reads_back_as_the_prefixed_id() -> None:
    epu = epu_id.generate()

    symbols = pyzbar.decode(Image.open(io.BytesIO(qr_png(epu))))

    assert [symbol.data.decode() for symbol in symbols] == ["EPU:" + epu]


def test_png_has_the_quiet_zone_at_the_requested_scale() -> None:
    picture = Image.open(io.BytesIO(qr_png(epu_id.generate(), scale=5))).convert("L")

    assert picture.size == (33 * 5, 33 * 5)  # 25 modules of version 2 and 4 on each side
    assert picture.crop((0, 0, 4 * 5, 33 * 5)).getextrema() == (255, 255)


def test_code_is_version_2_alphanumeric_level_q() -> None:
    code = qr_code(epu_id.generate())

    assert (code.version, code.error, code.mode) == (2, "Q", "alphanumeric")


def test_svg_is_xml_in_module_units_with_a_white_background() -> None:
    root = ET.fromstring(qr_svg(epu_id.generate()))

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 33 33"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_grouped_and_lower_case_spellings_give_the_same_code() -> None:
    epu = epu_id.generate()

    assert qr_png(epu_id.grouped(epu).lower()) == qr_png(epu)


def test_a_malformed_id_is_refused() -> None:
    with pytest.raises(GatewayError) as refused:
        qr_png("not-an-epu")

    assert refused.value.status == 400
