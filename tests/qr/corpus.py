"""A seeded corpus of photographed EPU QR codes, to measure decoders against what lab desks see.

Every image holds one fresh EPU ID, so the expected answer is known. Same seed, same bytes: the
random state of each image derives only from the seed and its index. Images are cached under
tests/qr/corpus_cache/ (gitignored) because the 12-megapixel ones take a while to draw.

Distortions are scaled to the module size (pixels per QR module), which is what decides whether a
code is readable, and kept in the range of real desk photos: a person retakes a picture in which
they cannot make out the squares themselves.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import segno
from numpy.typing import NDArray

from app.domain import epu_id

CACHE = Path(__file__).parent / "corpus_cache"
SEED = 20240917
# Images per category; `small_12mp` is smaller because each costs ~1 s to draw and encode.
COUNTS = {
    "clean": 40,
    "small_12mp": 25,
    "rotation": 40,
    "perspective": 40,
    "blur": 40,
    "jpeg": 35,
    "lighting": 40,
    "phone_screen": 40,
    "hard": 40,
}
CATEGORIES = tuple(COUNTS)
_PNG_SIGNATURE = b"\x89PNG"
_SOURCE_SCALE = 12  # pixels per module of the crisp code before it is warped into a scene

Rng = np.random.Generator
Image = NDArray[Any]


@dataclass(frozen=True)
class Sample:
    name: str
    category: str
    epu: str
    data: bytes  # the encoded file, PNG or JPEG, as an upload would carry it


def corpus(seed: int = SEED, counts: dict[str, int] | None = None) -> Iterator[Sample]:
    """Every sample, category by category, drawn or read from the cache."""
    for category, count in (counts or COUNTS).items():
        for index in range(count):
            yield sample(category, index, seed)


def ci_sample(seed: int = SEED, per_category: int = 5) -> Iterator[Sample]:
    """A few images of each category, for CI; small_12mp is the slowest, so it gets fewer."""
    for category in CATEGORIES:
        count = 2 if category == "small_12mp" else per_category
        for index in range(count):
            yield sample(category, index, seed)


def sample(category: str, index: int, seed: int = SEED) -> Sample:
    """One sample, from the cache when it has been drawn before."""
    name = f"{category}-{index:03d}"
    folder = CACHE / str(seed)
    meta_path = folder / f"{name}.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return Sample(name, category, meta["epu"], (folder / meta["file"]).read_bytes())
    drawn = draw(category, index, seed)
    folder.mkdir(parents=True, exist_ok=True)
    file = name + (".png" if drawn.data.startswith(_PNG_SIGNATURE) else ".jpg")
    (folder / file).write_bytes(drawn.data)
    meta_path.write_text(json.dumps({"epu": drawn.epu, "file": file}))
    return drawn


def draw(category: str, index: int, seed: int = SEED) -> Sample:
    """Draw one sample in memory; its randomness depends only on (seed, category, index)."""
    rng = np.random.default_rng([seed, CATEGORIES.index(category), index])
    epu = _epu(rng)
    image, fmt, quality = _DRAW[category](rng, _code(epu))
    return Sample(f"{category}-{index:03d}", category, epu, _encode(image, fmt, quality))


# --- building blocks -------------------------------------------------------------------------


def _epu(rng: Rng) -> str:
    body = epu_id.FORMAT_PREFIX + "".join(
        epu_id.ALPHABET[i] for i in rng.integers(0, len(epu_id.ALPHABET), epu_id.RANDOM_LENGTH)
    )
    return body + epu_id.check_character(body)


def _code(epu: str) -> Image:
    """The crisp code with its quiet zone, 0 for dark modules, 255 for light."""
    qr = segno.make_qr(
        epu_id.qr_content(epu), version=2, error="q", boost_error=False, mode="alphanumeric"
    )
    modules = np.array([list(row) for row in qr.matrix_iter(border=4)], dtype=np.uint8)
    light = (1 - modules) * 255
    return np.kron(light, np.ones((_SOURCE_SCALE, _SOURCE_SCALE), dtype=np.uint8))


def _encode(image: Image, fmt: str, quality: int) -> bytes:
    if fmt == "jpg":
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def _to_bytes(values: Image) -> Image:
    return np.asarray(np.clip(values, 0, 255), np.uint8)


def _smooth_noise(rng: Rng, shape: tuple[int, int], cells: int) -> Image:
    """Low-frequency noise in [0, 1]: the slow variations of light and surfaces."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _desk(rng: Rng, size: tuple[int, int]) -> Image:
    """A desk or counter: a random colour with slow texture."""
    width, height = size
    colour = rng.uniform(40, 200, 3)
    texture = _smooth_noise(rng, (height, width), 8)[..., None] * 40 - 20
    return _to_bytes(colour + texture)


def _page(rng: Rng, canvas: Image, quad: np.ndarray) -> None:
    """An off-white sheet, with lines of 'text', filling `quad` of the canvas."""
    paper = rng.uniform(215, 250) - np.array([rng.uniform(0, 12), rng.uniform(0, 6), 0])
    cv2.fillConvexPoly(canvas, quad.astype(np.int32), paper.tolist(), cv2.LINE_AA)
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    line = max(4, int((y1 - y0) / 60))
    for y in np.arange(y0 + 3 * line, y1 - 3 * line, 2 * line):
        if rng.random() < 0.3:
            continue
        start = x0 + rng.uniform(0.05, 0.15) * (x1 - x0)
        end = start + rng.uniform(0.2, 0.75) * (x1 - x0)
        ink = int(rng.uniform(20, 90))
        cv2.rectangle(canvas, (int(start), int(y)), (int(end), int(y + line * 0.6)), (ink,) * 3, -1)


def _quad(
    rng: Rng, centre: tuple[float, float], side: float, angle: float, tilt: float
) -> np.ndarray:
    """Corners of a code of `side` pixels turned by `angle` degrees, each moved by up to `tilt` of
    the side to mimic a camera that is not square to the page (keeping the corner order)."""
    half = side / 2
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float32)
    if tilt:
        # Perspective: one side of the code further from the lens than the opposite one.
        axis = rng.integers(0, 2)
        shrink = 1 - tilt * rng.uniform(0.5, 1.0)
        far = [0, 1] if axis == 0 else [1, 2]
        centre_far = corners[far].mean(axis=0)
        corners[far] = centre_far + (corners[far] - centre_far) * shrink
        corners += rng.uniform(-tilt, tilt, corners.shape).astype(np.float32) * side * 0.15
    theta = math.radians(angle)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return np.asarray(corners @ rotation.T + np.array(centre), np.float32)


def _paste_code(
    canvas: Image, code: Image, quad: np.ndarray, ink: float = 0, paper: float = 255
) -> None:
    """Warp the code into `quad` of the canvas, only touching its bounding box."""
    height, width = canvas.shape[:2]
    x0, y0 = np.floor(quad.min(axis=0)).astype(int).clip(0, [width - 1, height - 1])
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int).clip(0, [width - 1, height - 1])
    size = code.shape[0]
    source = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    warp = cv2.getPerspectiveTransform(source, quad - np.array([x0, y0], np.float32))
    box = (int(x1 - x0 + 1), int(y1 - y0 + 1))
    shaded = (code.astype(np.float32) / 255) * (paper - ink) + ink
    patch = cv2.warpPerspective(shaded, warp, box, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(shaded), warp, box, flags=cv2.INTER_LINEAR)
    region = canvas[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32)
    blended = region * (1 - mask[..., None]) + patch[..., None] * mask[..., None]
    canvas[y0 : y1 + 1, x0 : x1 + 1] = blended.clip(0, 255).astype(np.uint8)


def _scene(
    rng: Rng,
    code: Image,
    size: tuple[int, int],
    module_px: float,
    angle: float = 0.0,
    tilt: float = 0.0,
) -> Image:
    """A page on a desk with the code somewhere on it, `module_px` pixels per module."""
    width, height = size
    canvas = _desk(rng, size)
    margin = rng.uniform(0.02, 0.12)
    page = np.array(
        [
            [width * margin * rng.uniform(0, 1), height * margin * rng.uniform(0, 1)],
            [width * (1 - margin * rng.uniform(0, 1)), height * margin * rng.uniform(0, 1)],
            [width * (1 - margin * rng.uniform(0, 1)), height * (1 - margin * rng.uniform(0, 1))],
            [width * margin * rng.uniform(0, 1), height * (1 - margin * rng.uniform(0, 1))],
        ],
        np.float32,
    )
    _page(rng, canvas, page)
    side = module_px * code.shape[0] / _SOURCE_SCALE
    reach = side * 0.75
    centre = (
        rng.uniform(reach, max(reach + 1, width - reach)),
        rng.uniform(reach, max(reach + 1, height - reach)),
    )
    ink = rng.uniform(0, 45)
    _paste_code(
        canvas, code, _quad(rng, centre, side, angle, tilt), ink=ink, paper=rng.uniform(215, 250)
    )
    return canvas


def _photo_size(rng: Rng) -> tuple[int, int]:
    """Webcam and downscaled phone sizes, landscape or portrait."""
    width, height = [(640, 480), (800, 600), (1024, 768), (1280, 720), (1280, 960), (1600, 1200)][
        rng.integers(0, 6)
    ]
    return (width, height) if rng.random() < 0.7 else (height, width)


def _sensor_noise(rng: Rng, image: Image, sigma: float) -> Image:
    noise = rng.normal(0, sigma, image.shape).astype(np.float32)
    return _to_bytes(image.astype(np.float32) + noise)


def _gaussian_blur(image: Image, sigma: float) -> Image:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def _motion_blur(rng: Rng, image: Image, length: float) -> Image:
    size = max(3, int(math.ceil(length)) | 1)
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), rng.uniform(0, 180), 1)
    kernel = np.asarray(cv2.warpAffine(kernel, rotation, (size, size)), np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _uneven_light(rng: Rng, image: Image, strength: float) -> Image:
    """A gradient from one side, slow blotches, and the sharp shadow of a hand or a phone."""
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (xs / width) * math.cos(direction) + (ys / height) * math.sin(direction)
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    light = 1 - strength * 0.6 * ramp - strength * 0.25 * _smooth_noise(rng, (height, width), 4)
    shadow = np.zeros((height, width), np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    angle = rng.uniform(0, 2 * math.pi)
    far = 3 * max(width, height)
    edge = np.array(
        [
            [cx + far * math.cos(angle), cy + far * math.sin(angle)],
            [cx - far * math.cos(angle), cy - far * math.sin(angle)],
            [
                cx - far * math.cos(angle) + far * math.sin(angle),
                cy - far * math.sin(angle) - far * math.cos(angle),
            ],
            [
                cx + far * math.cos(angle) + far * math.sin(angle),
                cy + far * math.sin(angle) - far * math.cos(angle),
            ],
        ],
        np.int32,
    )
    cv2.fillConvexPoly(shadow, edge, 1.0)
    softness = max(1.0, min(width, height) * rng.uniform(0.002, 0.02))
    shadow = np.asarray(cv2.GaussianBlur(shadow, (0, 0), softness), np.float32)
    light *= 1 - shadow * strength * rng.uniform(0.3, 0.55)
    return _to_bytes(image.astype(np.float32) * light[..., None])


def _glare(
    rng: Rng, image: Image, centre: tuple[float, float], side: float, strength: float
) -> Image:
    """A reflection of a ceiling light, somewhere on the code: a bright spot washing it out."""
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    x = centre[0] + rng.uniform(-0.6, 0.6) * side
    y = centre[1] + rng.uniform(-0.6, 0.6) * side
    radius = side * rng.uniform(0.15, 0.4)
    spot = np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * radius**2))
    return _to_bytes(image.astype(np.float32) + spot[..., None] * strength)


# --- categories ------------------------------------------------------------------------------

Drawn = tuple[Image, str, int]


def _clean(rng: Rng, code: Image) -> Drawn:
    image = _scene(rng, code, _photo_size(rng), rng.uniform(3.5, 10), angle=rng.uniform(-4, 4))
    return _sensor_noise(rng, image, rng.uniform(0, 3)), "png", 0


def _small_12mp(rng: Rng, code: Image) -> Drawn:
    size = (4000, 3000) if rng.random() < 0.6 else (3000, 4000)
    # A sheet photographed whole from arm's length: the code is 130-450 px wide.
    module = rng.uniform(4, 13.5)
    image = _scene(rng, code, size, module, angle=rng.uniform(-15, 15), tilt=rng.uniform(0, 0.15))
    image = _gaussian_blur(image, rng.uniform(0.5, 1.5))
    image = _sensor_noise(rng, image, rng.uniform(2, 6))
    return image, "jpg", int(rng.uniform(80, 95))


def _rotation(rng: Rng, code: Image) -> Drawn:
    image = _scene(rng, code, _photo_size(rng), rng.uniform(3, 9), angle=rng.uniform(0, 360))
    return _sensor_noise(rng, image, rng.uniform(1, 4)), "jpg", int(rng.uniform(80, 95))


def _perspective(rng: Rng, code: Image) -> Drawn:
    image = _scene(
        rng,
        code,
        _photo_size(rng),
        rng.uniform(3.5, 9),
        angle=rng.uniform(0, 360),
        tilt=rng.uniform(0.15, 0.45),
    )
    return _sensor_noise(rng, image, rng.uniform(1, 4)), "jpg", int(rng.uniform(80, 95))


def _blur(rng: Rng, code: Image) -> Drawn:
    module = rng.uniform(4, 9)
    image = _scene(rng, code, _photo_size(rng), module, angle=rng.uniform(-20, 20))
    if rng.random() < 0.5:
        image = _gaussian_blur(image, module * rng.uniform(0.15, 0.45))
    else:
        image = _motion_blur(rng, image, module * rng.uniform(0.5, 1.4))
    return _sensor_noise(rng, image, rng.uniform(1, 4)), "jpg", int(rng.uniform(80, 95))


def _jpeg(rng: Rng, code: Image) -> Drawn:
    image = _scene(rng, code, _photo_size(rng), rng.uniform(3, 8), angle=rng.uniform(-20, 20))
    return _sensor_noise(rng, image, rng.uniform(1, 4)), "jpg", int(rng.uniform(5, 25))


def _lighting(rng: Rng, code: Image) -> Drawn:
    image = _scene(rng, code, _photo_size(rng), rng.uniform(3.5, 9), angle=rng.uniform(-30, 30))
    image = _uneven_light(rng, image, rng.uniform(0.5, 1.0))
    return _sensor_noise(rng, image, rng.uniform(1, 4)), "jpg", int(rng.uniform(80, 95))


def _phone_screen(rng: Rng, code: Image) -> Drawn:
    """A code shown on a phone, photographed: bright backlit screen, maybe dark mode (inverted),
    the screen's pixel grid beating with the camera's (moire), a reflection, a small code."""
    size = _photo_size(rng)
    width, height = size
    canvas = _desk(rng, size)
    inverted = rng.random() < 0.4
    module = rng.uniform(2.8, 6)
    side = module * code.shape[0] / _SOURCE_SCALE
    phone_w, phone_h = side * rng.uniform(1.1, 1.6), side * rng.uniform(2.0, 2.6)
    centre = (
        rng.uniform(phone_w * 0.6, max(phone_w * 0.6 + 1, width - phone_w * 0.6)),
        rng.uniform(side * 0.6, max(side * 0.6 + 1, height - side * 0.6)),
    )
    angle = rng.uniform(0, 360)
    body = cv2.boxPoints((centre, (phone_w * 1.08, phone_h * 1.05), angle))
    cv2.fillConvexPoly(canvas, body.astype(np.int32), (20, 20, 25), cv2.LINE_AA)
    screen = cv2.boxPoints((centre, (phone_w, phone_h), angle))
    background = rng.uniform(10, 40) if inverted else rng.uniform(235, 255)
    cv2.fillConvexPoly(canvas, screen.astype(np.int32), (background,) * 3, cv2.LINE_AA)
    shown = 255 - code if inverted else code
    quad = _quad(rng, centre, side, angle + rng.uniform(-3, 3), rng.uniform(0, 0.2))
    _paste_code(canvas, shown, quad, ink=rng.uniform(0, 30), paper=rng.uniform(225, 255))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(2.2, 5.0)
    tilt = rng.uniform(0, math.pi)
    moire = np.sin((xs * math.cos(tilt) + ys * math.sin(tilt)) * 2 * math.pi / period)
    image = canvas.astype(np.float32) * (1 + rng.uniform(0.06, 0.18) * moire[..., None])
    image = _glare(rng, np.clip(image, 0, 255).astype(np.uint8), centre, side, rng.uniform(60, 140))
    image = _gaussian_blur(image, rng.uniform(0.4, 1.0))
    return _sensor_noise(rng, image, rng.uniform(2, 6)), "jpg", int(rng.uniform(70, 92))


def _hard(rng: Rng, code: Image) -> Drawn:
    """Two to four of the troubles above at once on a small, turned, tilted code, each a little
    milder than in its own category."""
    size = _photo_size(rng)
    module = rng.uniform(3, 7)
    side = module * code.shape[0] / _SOURCE_SCALE
    image = _scene(rng, code, size, module, angle=rng.uniform(0, 360), tilt=rng.uniform(0, 0.35))
    troubles = rng.permutation(["light", "blur", "jpeg", "noise", "glare"])[: rng.integers(2, 5)]
    quality = int(rng.uniform(75, 95))
    if "light" in troubles:
        image = _uneven_light(rng, image, rng.uniform(0.4, 0.8))
    if "glare" in troubles:
        # Where the code is is not known here; a wide spot anywhere near the middle will do.
        centre = (size[0] * rng.uniform(0.3, 0.7), size[1] * rng.uniform(0.3, 0.7))
        image = _glare(rng, image, centre, max(side, min(size) / 3), rng.uniform(40, 100))
    if "blur" in troubles:
        if rng.random() < 0.5:
            image = _gaussian_blur(image, module * rng.uniform(0.1, 0.3))
        else:
            image = _motion_blur(rng, image, module * rng.uniform(0.4, 0.9))
    noise = rng.uniform(5, 10) if "noise" in troubles else rng.uniform(1, 3)
    image = _sensor_noise(rng, image, noise)
    if "jpeg" in troubles:
        quality = int(rng.uniform(12, 35))
    return image, "jpg", quality


_DRAW: dict[str, Callable[[Rng, Image], Drawn]] = {
    "clean": _clean,
    "small_12mp": _small_12mp,
    "rotation": _rotation,
    "perspective": _perspective,
    "blur": _blur,
    "jpeg": _jpeg,
    "lighting": _lighting,
    "phone_screen": _phone_screen,
    "hard": _hard,
}


if __name__ == "__main__":
    import sys
    import time

    started = time.perf_counter()
    total = sum(1 for _ in corpus(int(sys.argv[1]) if len(sys.argv) > 1 else SEED))
    print(f"{total} samples in {time.perf_counter() - started:.1f} s under {CACHE}")
