"""Captcha pictures: real PNG files drawn with Pillow from a random text."""

from __future__ import annotations

import functools
import glob
import io
import random

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ALPHABET", "render_captcha"]

ALPHABET = "23456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no 0/O, 1/I/Q look-alikes


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        *sorted(glob.glob("/usr/share/fonts/**/DejaVuSans*.ttf", recursive=True)),
    ]
    for path in candidates:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


def render_captcha(text: str, rng: random.Random) -> bytes:
    """A 160x60 PNG showing ``text`` with jitter and noise lines."""
    image = Image.new("RGB", (160, 60), (240, 240, 235))
    draw = ImageDraw.Draw(image)
    font = _font(32)
    for _ in range(6):
        draw.line(
            [(rng.randint(0, 160), rng.randint(0, 60)), (rng.randint(0, 160), rng.randint(0, 60))],
            fill=(rng.randint(120, 200), rng.randint(120, 200), rng.randint(120, 200)),
            width=2,
        )
    x = 10
    for char in text:
        color = (rng.randint(0, 90), rng.randint(0, 90), rng.randint(60, 140))
        draw.text((x, rng.randint(4, 16)), char, font=font, fill=color)
        x += 28
    for _ in range(120):
        draw.point((rng.randint(0, 159), rng.randint(0, 59)), fill=(90, 90, 90))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
