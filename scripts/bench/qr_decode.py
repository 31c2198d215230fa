"""Decode rate and time of each QR decoder, alone and in the shipped chain, over the test corpus.

    PYTHONPATH=. python scripts/bench/qr_decode.py [--seed N] [--only chain,zxing,...]

Time is per image, from the uploaded bytes to the texts, image decoding included, on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import cv2
import zxingcpp
from pyzbar import pyzbar

from app.domain.errors import GatewayError
from app.qr.decode import Gray, find_qr_texts, grayscale, open_image
from app.qr.scanned_text import epu_from_qr_texts
from tests.qr.corpus import CATEGORIES, SEED, Sample, corpus

Decoder = Callable[[bytes], list[str]]


def _full_gray(image: bytes) -> Gray:
    return grayscale(open_image(image), None)


def zxing_alone(image: bytes) -> list[str]:
    found = zxingcpp.read_barcodes(
        _full_gray(image), formats=zxingcpp.barcode_formats_from_str("QRCode")
    )
    return [barcode.text for barcode in found]


def pyzbar_alone(image: bytes) -> list[str]:
    found = pyzbar.decode(_full_gray(image), symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [symbol.data.decode("latin-1") for symbol in found]


def _opencv(detector: cv2.QRCodeDetector | cv2.QRCodeDetectorAruco) -> Decoder:
    def decode(image: bytes) -> list[str]:
        try:
            ok, texts, _, _ = detector.detectAndDecodeMulti(_full_gray(image))
        except cv2.error:  # OpenCV 5 asserts on some degenerate candidate quads
            return []
        return [text for text in texts if text] if ok else []

    return decode


DECODERS: dict[str, Decoder] = {
    "chain (shipped)": find_qr_texts,
    "zxing-cpp": zxing_alone,
    "pyzbar": pyzbar_alone,
    "opencv": _opencv(cv2.QRCodeDetector()),
    "opencv-aruco": _opencv(cv2.QRCodeDetectorAruco()),
}


def is_read(decoder: Decoder, sample: Sample) -> tuple[bool, float]:
    started = time.perf_counter()
    texts = decoder(sample.data)
    elapsed = (time.perf_counter() - started) * 1000
    try:
        return epu_from_qr_texts(texts) == sample.epu, elapsed
    except GatewayError:
        return False, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--only", help="comma-separated decoder names")
    parser.add_argument("--misses", action="store_true", help="list the images the chain missed")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    samples = list(corpus(args.seed))
    names = args.only.split(",") if args.only else list(DECODERS)
    header = f"{'decoder':<16}" + "".join(f"{c[:12]:>13}" for c in CATEGORIES)
    print(f"{len(samples)} images, seed {args.seed}; decode rate % per category")
    print(header + f"{'overall':>9}{'med ms':>8}{'p95 ms':>8}")
    for name in names:
        hits: dict[str, list[bool]] = defaultdict(list)
        times: list[float] = []
        for sample in samples:
            ok, elapsed = is_read(DECODERS[name], sample)
            hits[sample.category].append(ok)
            times.append(elapsed)
            if args.misses and not ok and name.startswith("chain"):
                print(f"  missed {sample.name}")
        rates = "".join(f"{100 * sum(hits[c]) / len(hits[c]):>13.1f}" for c in CATEGORIES)
        overall = 100 * sum(sum(h) for h in hits.values()) / len(samples)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name:<16}{rates}{overall:>9.1f}{statistics.median(times):>8.1f}{p95:>8.1f}")


if __name__ == "__main__":
    main()
