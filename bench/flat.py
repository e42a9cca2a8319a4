"""How many pixels one byte holds in the flattest pictures the usual encoders make, by format,
next to the bound shoebox refuses bombs by (`renditions.pixels_per_byte`).

A picture that claims more pixels than its file's size can hold is refused before it is
decoded. The bounds come from the codings' own limits where they have one (PNG, TIFF) and from
these measurements, with room to spare, where they do not. "room" is the bound over what a
flat picture needs: at 1 or more such pictures pass (a coding's own limit may leave little
room, as it should), below 1 they would be refused. Run it after a Pillow, libwebp, libheif
or libaom upgrade.

    .venv/bin/python bench/flat.py
    .venv/bin/python bench/flat.py --sizes 1920x1080 8000x6000
"""

from __future__ import annotations

import argparse
import io
import time

from PIL import Image

from shoebox.ingest import renditions

# (what, Pillow format, mode, save options), each saved as one flat colour
FLAT = [
    ("JPEG q95", "JPEG", "RGB", {"quality": 95}),
    ("JPEG q75 optimised, grey", "JPEG", "L", {"quality": 75, "optimize": True}),
    ("JPEG progressive, grey", "JPEG", "L", {"quality": 75, "progressive": True}),
    ("PNG RGB", "PNG", "RGB", {"optimize": True}),
    ("PNG palette", "PNG", "P", {"optimize": True}),
    ("PNG 1-bit", "PNG", "1", {"optimize": True}),
    ("GIF", "GIF", "P", {}),
    ("WebP lossy", "WEBP", "RGB", {"quality": 75}),
    ("WebP lossless", "WEBP", "RGB", {"lossless": True}),
    ("TIFF group 4, 1-bit", "TIFF", "1", {"compression": "group4"}),
    ("TIFF deflate RGB", "TIFF", "RGB", {"compression": "tiff_adobe_deflate"}),
    ("TIFF LZW RGB", "TIFF", "RGB", {"compression": "tiff_lzw"}),
    ("TIFF PackBits 1-bit", "TIFF", "1", {"compression": "packbits"}),
    ("HEIC", "HEIF", "RGB", {"quality": 75}),
    ("AVIF", "AVIF", "RGB", {"quality": 75}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["6000x3000"], help="WIDTHxHEIGHT ...")
    args = parser.parse_args()
    print(f"{'picture':28} {'size':>11} {'bytes':>9} {'px/byte':>8} {'bound':>8} {'room':>6}")
    for size_text in args.sizes:
        width, height = (int(n) for n in size_text.split("x"))
        for what, fmt, mode, options in FLAT:
            colour = 250 if mode in ("L", "P", "1") else (250, 250, 250)
            out = io.BytesIO()
            started = time.monotonic()
            Image.new(mode, (width, height), colour).save(out, fmt, **options)
            data = out.getvalue()
            with Image.open(io.BytesIO(data)) as im:
                bound = renditions.pixels_per_byte(
                    im.format or "", data[:64], im.info.get("compression"), im.mode
                )
            flat = width * height / len(data)
            print(
                f"{what:28} {size_text:>11} {len(data):9d} {flat:8.0f} {bound:8.0f} "
                f"{bound / flat:6.1f}  ({time.monotonic() - started:.1f} s)"
            )


if __name__ == "__main__":
    main()
