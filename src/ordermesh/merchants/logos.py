"""What a brand's logo must be: a PNG or JPEG, told by its magic bytes and decoded whole, within the
size and dimension caps. Pure (Pillow decodes; nothing is stored here)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_SIDE = 4096  # pixels, checked from the header before anything is decoded
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}  # media type -> Pillow's format
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


class LogoRefused(ValueError):
    """The bytes are no logo we keep; the message says why."""


@dataclass(frozen=True)
class Logo:
    content_type: str  # image/png or image/jpeg
    width: int
    height: int


def check_logo(data: bytes, content_type: str | None) -> Logo:
    """The logo's type and decoded dimensions, or LogoRefused: its Content-Type must be image/png or
    image/jpeg and agree with its magic bytes, it must be at most MAX_LOGO_BYTES, and decode whole."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in _MAGIC:
        raise LogoRefused("send the logo as the body with Content-Type image/png or image/jpeg")
    if not data:
        raise LogoRefused("the body is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused(f"the logo is {len(data)} bytes; at most {MAX_LOGO_BYTES} are kept")
    if not data.startswith(_MAGIC[media]):
        raise LogoRefused(f"the body is not a {media.split('/')[1].upper()} image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[FORMATS[media]])
            width, height = image.size
            if not (0 < width <= MAX_LOGO_SIDE and 0 < height <= MAX_LOGO_SIDE):
                raise LogoRefused(f"the logo is {width}x{height} pixels; at most {MAX_LOGO_SIDE} a side")
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except LogoRefused:
        raise
    except Exception as error:  # Pillow raises many kinds for a broken file
        raise LogoRefused(f"the image cannot be decoded ({type(error).__name__})") from None
    return Logo(media, width, height)
