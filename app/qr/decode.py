"""Find the QR codes in a photo: size guards first, then a chain of decoders, cheapest first.

Guards come before any pixel is decoded: the byte size, then the pixel count read from the header
alone, which is what stops decompression bombs (a few kB of PNG claiming gigapixels).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray
from PIL import Image

from app.domain.errors import GatewayError, error

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Long side the first pass works at. Phone photos are 3000-4000 px; a code filling a sensible part
# of them still has 3+ pixels per module at this size, and decoding is 4-6 times cheaper.
FIRST_PASS_SIDE = 1600

Gray = NDArray[np.uint8]
_QR_ONLY = zxingcpp.barcode_formats_from_str("QRCode")


def find_qr_texts(image: bytes) -> list[str]:
    """The texts of the QR codes in an image (PNG, JPEG or anything Pillow reads), maybe none.

    Raises 413 for more than 10 MB or 40 megapixels, 400 when the bytes are not a readable image.
    zxing-cpp on a reduced gray image reads nearly every photo in a few milliseconds; the rest of
    the chain only runs when it finds nothing, so its cost falls on the rare hard photo.
    """
    picture = open_image(image)
    working = grayscale(picture, FIRST_PASS_SIDE)
    texts = _zxing(working)
    if not texts and max(picture.size) > FIRST_PASS_SIDE:
        # A code photographed from afar may have lost its modules in the reduction.
        texts = _zxing(grayscale(open_image(image), None))
    for attempt in _FALLBACKS:
        if texts:
            break
        texts = attempt(working)
    return texts


def open_image(image: bytes) -> Image.Image:
    """The image, header read but pixels not yet decoded, once it has passed the size guards."""
    if len(image) > MAX_BYTES:
        raise _too_large(f"The image has {len(image):,} bytes; the limit is {MAX_BYTES:,}.")
    try:
        picture = Image.open(io.BytesIO(image))
    except Image.DecompressionBombError:
        # Pillow's own limit, far above ours: it refuses before we can read the size.
        raise _too_large(f"The image has more than {MAX_PIXELS:,} pixels.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise _unreadable() from exc
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise _too_large(
            f"The image has {width}x{height} = {width * height:,} pixels; "
            f"the limit is {MAX_PIXELS:,}."
        )
    return picture


def grayscale(picture: Image.Image, max_side: int | None) -> Gray:
    """Decode the pixels as 8-bit gray, no longer than `max_side` on the long side.

    JPEG can decode straight at 1/2, 1/4 or 1/8 size (`draft`), which is most of the saving on a
    12-megapixel photo.
    """
    try:
        if max_side is not None and picture.format == "JPEG":
            width, height = picture.size
            scale = max_side / max(width, height)
            picture.draft("L", (int(width * scale), int(height * scale)))
        gray = np.asarray(picture.convert("L"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise _unreadable() from exc
    if max_side is not None and max(gray.shape) > max_side:
        scale = max_side / max(gray.shape)
        size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def _zxing(
    gray: Gray, binarizer: zxingcpp.Binarizer = zxingcpp.Binarizer.LocalAverage
) -> list[str]:
    # try_invert (on by default) covers light-on-dark codes on phones in dark mode.
    found = zxingcpp.read_barcodes(gray, formats=_QR_ONLY, binarizer=binarizer)
    return [barcode.text for barcode in found]


def _zxing_global_threshold(gray: Gray) -> list[str]:
    """Local averaging can split the fine modules of a steeply tilted code; one threshold for the
    whole image does not."""
    return _zxing(gray, zxingcpp.Binarizer.GlobalHistogram)


def _zxing_upscaled(gray: Gray) -> list[str]:
    """Under about 3 pixels per module the finder patterns blur into their surroundings; cubic
    upsampling gives the detector whole pixels to work with."""
    larger = cv2.resize(gray, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    return _zxing(np.asarray(larger, dtype=np.uint8))


def _zxing_adaptive_threshold(gray: Gray) -> list[str]:
    """A phone screen's moire and glare move the local level faster than zxing's window follows."""
    binary = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5
    )
    return _zxing(np.asarray(binary, dtype=np.uint8))


def _opencv_aruco(gray: Gray) -> list[str]:
    """A detector of another family (contours, not scan lines), for what zxing cannot locate."""
    try:
        ok, texts, _, _ = cv2.QRCodeDetectorAruco().detectAndDecodeMulti(gray)
    except cv2.error:  # OpenCV asserts on some degenerate candidate outlines
        return []
    return [text for text in texts if text] if ok else []


_FALLBACKS: list[Callable[[Gray], list[str]]] = [
    _zxing_global_threshold,
    _zxing_upscaled,
    _zxing_adaptive_threshold,
    _opencv_aruco,
]


def _too_large(diagnostics: str) -> GatewayError:
    return error(413, "IMAGE_TOO_LARGE", diagnostics, "body", issue_type="too-costly")


def _unreadable() -> GatewayError:
    return error(
        400,
        "IMAGE_UNREADABLE",
        "The body is not a readable image (PNG or JPEG), or it is truncated.",
        "body",
    )
