"""A campaign's images lose their metadata before a revision is stored.

A photo in a campaign folder may carry where and when it was taken (EXIF with GPS, XMP,
IPTC, comments, PNG text). The media library cleans uploads (``posts.media.clean_image``);
a campaign's images are sent from its stored revision, so they are cleaned the same way
when the revision is saved — from any door: folder import, zip, web form, restore. An
image without such metadata is left byte for byte as it is (the example campaign imports
unchanged); one with it is re-encoded from its pixels only.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import CampaignError

# What the loader takes as an image (its first bytes), as in campaign/loader.py.
_IMAGE_STARTS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8")


def has_metadata(data: bytes) -> bool:
    """Whether the image carries EXIF, XMP, IPTC, a comment or PNG text (the library's
    test, ``posts.media.has_metadata``; imported late, as the library needs the database)."""
    from posts.media import has_metadata as library_has_metadata

    return library_has_metadata(data)


def strip_image_metadata(files: Mapping[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """The files with every image's metadata removed, and the paths that were cleaned."""
    from posts.media import MediaError, clean_image

    out = dict(files)
    cleaned: list[str] = []
    for path, data in sorted(files.items()):
        if not data.startswith(_IMAGE_STARTS) or not has_metadata(data):
            continue
        try:
            out[path] = clean_image(data, field=path).data
        except MediaError as exc:
            raise CampaignError(
                path,
                f"this image carries metadata (such as where it was taken) that must be "
                f"removed before it is stored, and it cannot be cleaned: {exc}",
            ) from None
        cleaned.append(path)
    return out, cleaned
