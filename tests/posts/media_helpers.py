"""Images made on the fly for the media tests: a photo with GPS in its EXIF."""

from __future__ import annotations

import io

GPS_LATITUDE = (51.0, 35.0, 12.34)  # Newport, Gwent: 51°35'12.34"N
SECRET_MAKE = "PoliceCam-Serial-0042"


def photo_with_gps(size: tuple[int, int] = (64, 48), fmt: str = "JPEG") -> bytes:
    """A real JPEG whose EXIF holds the camera, a time and a GPS position."""
    from PIL import Image

    image = Image.new("RGB", size, (200, 30, 40))
    for x in range(size[0]):
        image.putpixel((x, x % size[1]), (255, 255, 255))
    exif = Image.Exif()
    exif[0x010F] = SECRET_MAKE  # Make
    exif[0x0132] = "2027:03:14 10:22:01"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "W"
    gps[4] = (2.0, 59.0, 0.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), comment=b"taken at the scene")
    return out.getvalue()


def has_location(data: bytes) -> bool:
    """Whether the bytes carry EXIF at all, or any trace of the GPS block or the camera."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if len(exif) or exif.get_ifd(0x8825) or "exif" in image.info:
            return True
    return b"Exif" in data or SECRET_MAKE.encode() in data or b"taken at the scene" in data
