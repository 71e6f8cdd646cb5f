"""Bluesky through the ``atproto`` client (httpx underneath), on any PDS.

- Log in with the account's handle and an app password (credential ``app_password``), once:
  the session string is kept in memory and, when the channel has a ``session_file``
  (``{state_dir}/sessions/{account}.bluesky.json``, mode 0600), on disk, so neither a new
  post nor a restarted worker creates a new session (``createSession`` is rate limited:
  30 per 5 minutes, 300 a day). The tokens are registered for redaction; they are never
  logged, stored in the database or put in a message.
- A post is one ``app.bsky.feed.post`` record: the text with its facets (links, bare
  domains included, and hashtags, as the Bluesky app detects them; byte offsets in UTF-8;
  @mentions resolved to DIDs), up to 4 images with alt text (``app.bsky.embed.images``,
  blobs uploaded first) and the language tags of the post (``cy``, ``en``).
- Outcomes: ``docs/error-outcomes.md``, rows ``BSKY-*``.

Exactly once: the record is created with ``com.atproto.repo.createRecord`` under a record
key of our choosing, ``record_key(post)``: a valid TID derived only from the post id, the
content hash and the resend count a person raises, never from the attempt. A repository
holds one record per key, so every attempt of a post lands on the same key and can never
make a second post (``resend_is_safe``), and ``find`` is a look-up of that key
(``com.atproto.repo.getRecord``): there is a receipt, or ``RecordNotFound`` proves it is
not there. A second create under a taken key answers HTTP 500 (the PDS logs "There is
already a value at key"), so every failed create is followed by that look-up before the
failure is believed: a record found under our key is the post. If it is the record this
very request sent (same ``createdAt``), its receipt is returned; if an earlier send made
it, ``AlreadyPublished`` with its URI and URL. Nothing is sent twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import mimetypes
import os
import stat
import struct
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import grapheme
import httpx
from atproto import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    AtProtocolError,
    InvokeTimeoutError,
    LoginRequiredError,
    ModelError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_client.models.utils import get_response_model
from atproto_client.request import Request
from atproto_client.utils import facet_detection

from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings

from .base import Media, NetworkChannel, OutgoingPost, Receipt, read_images
from .credentials import Secret, redact, register_secret
from .outcomes import sent_or_not, status_error, transport_error, wait_seconds

log = logging.getLogger(__name__)

CREDENTIALS = ("app_password",)
DEFAULT_SERVICE = "https://bsky.social/xrpc"
MAX_GRAPHEMES = 300
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: blob maxSize
MAX_LANGS = 3

# XRPC error names that mean "the session is no good": log in again, once.
SESSION_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}
# Statuses a gateway gives while the PDS behind it may still be working on the request.
GATEWAY_STATUSES = {502, 504}

T = TypeVar("T")

# -- record keys --------------------------------------------------------------------------

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# Timestamps of our record keys start here (2023-01-01T00:00:00Z), one second per post id.
_TID_EPOCH_SECONDS = 1_672_531_200


def record_key(post: OutgoingPost) -> str:
    """The record key of this post: a valid TID, the same for every attempt.

    A TID is a 64-bit number (top bit 0) in 13 characters of base32-sortable: 53 bits of
    microseconds since 1970, then a 10-bit clock id. Ours is made, not read from a clock:
    the second is ``2023-01-01 + post_id`` (so keys sort by post id), the millisecond is
    the resend count (a person's ``resend`` gets a new key), and the microsecond and clock
    id are 20 bits of SHA-256 of ``post.idempotency_key`` (post id, resend count and
    content hash). The attempt plays no part: a second attempt lands on the first's key.
    Another database whose post 7 has other content gets another key.
    """
    digest = hashlib.sha256(post.idempotency_key.encode("utf-8")).digest()
    (mix,) = struct.unpack(">Q", digest[:8])
    seconds = _TID_EPOCH_SECONDS + post.post_id
    micros = seconds * 1_000_000 + (post.resend_count % 1000) * 1000 + mix % 1000
    clock_id = (mix >> 10) & 0x3FF
    return encode_tid(micros, clock_id)


def encode_tid(micros: int, clock_id: int) -> str:
    if not 0 <= micros < 2**53 or not 0 <= clock_id < 2**10:
        raise ValueError("a TID holds 53 bits of microseconds and a 10-bit clock id")
    number = (micros << 10) | clock_id
    return "".join(_TID_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(13)))


# -- the channel --------------------------------------------------------------------------


class BlueskyChannel(NetworkChannel):
    """One Bluesky account: handle (``account.handle``) and app password."""

    name = "bluesky"
    CREDENTIALS = CREDENTIALS
    # A repository holds one record per key, for ever: a resend lands on the first.
    resend_is_safe = True
    resend_window_seconds = None

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        timeout: float = 20.0,
        session_file: Path | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not credentials.get("app_password"):
            raise SettingsError(
                f"account {account_name!r}: Bluesky needs app_password (see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self.handle = account.handle.strip().lstrip("@").lower()
        self.service = (account.api_base_url or DEFAULT_SERVICE).rstrip("/")
        self._password = Secret(credentials["app_password"])
        self._timeout = timeout
        self._clock = clock
        self._transport = transport  # tests: an httpx transport in front of the real one
        self.session_file = session_file
        self._session: str | None = None  # the exported session string, in memory
        self._client: Client | None = None
        self._did: str | None = None

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        # The session is reused across restarts: session creation is rate limited.
        session_file = settings.state_dir / "sessions" / f"{account_name}.bluesky.json"
        return {**super().options(account_name, settings), "session_file": session_file}

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        if grapheme.length(post.text) > MAX_GRAPHEMES:
            raise PermanentError(
                f"bluesky: the text is {grapheme.length(post.text)} characters (graphemes); "
                f"Bluesky takes at most {MAX_GRAPHEMES}"
            )
        images = read_images(
            "bluesky", post.media, max_images=MAX_IMAGES, max_bytes=MAX_IMAGE_BYTES
        )
        rkey = record_key(post)
        return self._with_session(
            lambda client, did: self._publish(client, did, post, images, rkey)
        )

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The record under the key of this send, or of any earlier send of the post (a
        person's resend raised ``resend_count``); ``None`` only when every key is empty."""
        sends = [
            dataclasses.replace(post, resend_count=count)
            for count in range(post.resend_count, -1, -1)
        ]

        def lookup(client: Client, did: str) -> Receipt | None:
            for send in sends:
                found = self._lookup(client, did, send, record_key(send))
                if found is not None:
                    return found
            return None

        try:
            return self._with_session(lookup)
        except (AuthenticationError, AmbiguousError):
            raise
        except ChannelError as exc:
            raise AmbiguousError(
                f"bluesky: cannot look up record {record_key(post)} ({exc})",
                retry_after=exc.retry_after,
            ) from None

    def check(self) -> str:
        def who(client: Client, did: str) -> models.ComAtprotoServerGetSession.Response:
            return self._call(
                "read the session (com.atproto.server.getSession)",
                client.com.atproto.server.get_session,
                creates_post=False,
            )

        me = self._with_session(who)
        if me.handle.lower() != self.handle:
            raise AuthenticationError(
                f"bluesky: the app password of account {self.account_name!r} logs in as "
                f"@{me.handle} ({me.did}), but the account is configured as @{self.handle}"
            )
        if me.active is False:
            raise AuthenticationError(
                f"bluesky: @{me.handle} ({me.did}) is not active ({me.status or 'no reason given'})"
                ": it cannot post until the account is reactivated"
            )
        return f"@{me.handle} ({me.did})"

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.request.close()
            self._client = None

    # -- publishing ---------------------------------------------------------------------

    def _publish(
        self,
        client: Client,
        did: str,
        post: OutgoingPost,
        images: list[tuple[Media, bytes]],
        rkey: str,
    ) -> Receipt:
        embed = self._embed(client, images) if images else None
        created_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        record = models.AppBskyFeedPost.Record(
            created_at=created_at,
            text=post.text,
            facets=self._facets(client, post.text) or None,
            langs=_languages(post.language),
            embed=embed,
        )
        try:
            created = self._call(
                f"publish the post (createRecord {rkey})",
                lambda: client.app.bsky.feed.post.create(did, record, rkey=rkey),
                creates_post=True,
            )
        except (AuthenticationError, RetryableError):
            raise  # refused before anything was written (rate limit, refused connection)
        except ChannelError as error:
            settled = self._settle(client, did, post, rkey, created_at, error)
            if isinstance(settled, Receipt):
                return settled
            raise settled from None
        log.debug("bluesky: published post %s of %s as %s", post.post_id, self.account_name, rkey)
        return Receipt(remote_id=created.uri, url=self._url(rkey), extra={"cid": created.cid})

    def _settle(
        self,
        client: Client,
        did: str,
        post: OutgoingPost,
        rkey: str,
        created_at: str,
        error: ChannelError,
    ) -> Receipt | ChannelError:
        """After a failed create: the record under our key, if there, is the post.

        Returns its receipt when this request wrote it (its ``createdAt`` is the one just
        sent), or the error to raise: ``AlreadyPublished`` with the record's URI and URL
        when an earlier send wrote it. A second create under a taken key answers 500
        "InternalServerError", so this is how a second send of a post ends.
        """
        try:
            found = self._lookup_record(client, did, post, rkey)
        except (AuthenticationError, AmbiguousError):
            raise
        except ChannelError as lookup_error:
            if isinstance(error, AmbiguousError):
                return AmbiguousError(
                    f"{error}; and record {rkey} cannot be looked up ({lookup_error})",
                    retry_after=lookup_error.retry_after,
                )
            return error
        if found is not None:
            receipt, stored_at = found
            log.info(
                "bluesky: post %s of %s is already there as %s (the create answered: %s)",
                post.post_id,
                self.account_name,
                rkey,
                error,
            )
            if stored_at != created_at:
                return AlreadyPublished(
                    f"bluesky: record {rkey} already holds post {post.post_id} (created "
                    f"{stored_at or 'at an unknown time'} by an earlier send); nothing new "
                    "was created",
                    remote_id=receipt.remote_id,
                    url=receipt.url,
                )
            return Receipt(receipt.remote_id, receipt.url, {**receipt.extra, "reconciled": "true"})
        if isinstance(error, _SentAmbiguous) and not error.may_still_land:
            # The PDS itself answered 5xx and holds no record under our key: nothing was
            # written. The next attempt uses the same key, so it cannot double it anyway.
            return RetryableError(f"{error}; record {rkey} is not there, so nothing was published")
        return error

    def _lookup(self, client: Client, did: str, post: OutgoingPost, rkey: str) -> Receipt | None:
        found = self._lookup_record(client, did, post, rkey)
        return None if found is None else found[0]

    def _lookup_record(
        self, client: Client, did: str, post: OutgoingPost, rkey: str
    ) -> tuple[Receipt, str | None] | None:
        """The receipt of the record under ``rkey`` and its ``createdAt``, or None."""
        try:
            got = self._call(
                f"look up record {rkey} (getRecord)",
                lambda: client.app.bsky.feed.post.get(did, rkey),
                creates_post=False,
                not_found_ok=True,
            )
        except _NotFound:
            return None
        text = _record_field(got.value, "text")
        if text is not None and text != post.text:
            raise AmbiguousError(
                f"bluesky: record {rkey} holds other text than post {post.post_id}; "
                "a person must look at the account"
            )
        receipt = Receipt(remote_id=got.uri, url=self._url(rkey), extra={"cid": got.cid or ""})
        return receipt, _record_field(got.value, "created_at")

    def _facets(self, client: Client, text: str) -> list[models.AppBskyRichtextFacet.Main]:
        """Links, bare domains and hashtags (no network), and @mentions resolved to DIDs."""
        facets = list(facet_detection.detect_facets(text))
        for mention in facet_detection.detect_mentions(text):
            did = self._resolve(client, mention.handle)
            if did is None:
                continue  # not a Bluesky handle: stays plain text, as in the Bluesky app
            facets.append(
                models.AppBskyRichtextFacet.Main(
                    features=[models.AppBskyRichtextFacet.Mention(did=did)],
                    index=models.AppBskyRichtextFacet.ByteSlice(
                        byte_start=mention.byte_start, byte_end=mention.byte_end
                    ),
                )
            )
        return sorted(facets, key=lambda facet: facet.index.byte_start)

    def _resolve(self, client: Client, handle: str) -> str | None:
        try:
            answer = self._call(
                f"resolve @{handle}",
                lambda: client.resolve_handle(handle),
                creates_post=False,
                not_found_ok=True,
            )
        except (_NotFound, PermanentError):
            return None  # 400 "Unable to resolve handle" as much as HandleNotFound
        return str(answer.did)

    def _embed(
        self, client: Client, images: list[tuple[Media, bytes]]
    ) -> models.AppBskyEmbedImages.Main:
        embedded = []
        for media, data in images:
            uploaded = self._upload(client, media, data)
            size = _image_size(data)
            embedded.append(
                models.AppBskyEmbedImages.Image(
                    alt=media.alt_text,
                    image=uploaded.blob,
                    aspect_ratio=(
                        models.AppBskyEmbedDefs.AspectRatio(width=size[0], height=size[1])
                        if size
                        else None
                    ),
                )
            )
        return models.AppBskyEmbedImages.Main(images=embedded)

    def _upload(
        self, client: Client, media: Media, data: bytes
    ) -> models.ComAtprotoRepoUploadBlob.Response:
        """Upload one image blob. Not public until a record uses it: failures are retryable."""
        mime = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"

        def upload() -> models.ComAtprotoRepoUploadBlob.Response:
            # The bytes as the request body with their own type (``upload_blob`` would send
            # them as httpx's deprecated ``data=`` with ``*/*``).
            response = client.invoke_procedure(
                "com.atproto.repo.uploadBlob",
                content=data,
                headers={"Content-Type": mime},
                output_encoding="application/json",
            )
            return get_response_model(response, models.ComAtprotoRepoUploadBlob.Response)

        return self._call(f"upload image {media.path.name}", upload, creates_post=False)

    def _url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self.handle}/post/{rkey}"

    # -- the session --------------------------------------------------------------------

    def _with_session(self, work: Callable[[Client, str], T]) -> T:
        """Run ``work`` with a logged-in client; on a refused session, log in once more."""
        client, did = self._logged_in()
        try:
            return work(client, did)
        except _SessionRefused:
            pass
        # The stored session (or its refresh) was refused: a new one, once.
        self._forget_session()
        client, did = self._logged_in(fresh=True)
        try:
            return work(client, did)
        except _SessionRefused as refused:
            raise AuthenticationError(
                f"bluesky: {refused.action}: the PDS refused a session it had just created "
                f"({refused.detail}); check the account at {self.service}"
            ) from None

    def _logged_in(self, fresh: bool = False) -> tuple[Client, str]:
        if self._client is not None and self._did is not None and not fresh:
            return self._client, self._did
        self.close()
        options: dict[str, Any] = {"timeout": self._timeout}
        if self._transport is not None:
            options["transport"] = self._transport
        client = Client(base_url=self.service, request=Request(**options))
        client.on_session_change(self._remember)
        stored = None if fresh else (self._session or self._read_session_file())
        if stored:
            try:
                client.login(session_string=stored, fetch_bsky_profile=False)
                imported = client._session
                if imported is None or not imported.access_jwt_payload.exp:
                    raise ValueError("no expiry in the stored access token")
            except Exception:  # unreadable in any way: log in with the password
                stored = None
                client.request.close()
                client = Client(base_url=self.service, request=Request(**options))
                client.on_session_change(self._remember)
        if not stored:
            self._call(
                f"log in as @{self.handle} (createSession)",
                lambda: client.login(
                    self.handle, self._password.reveal(), fetch_bsky_profile=False
                ),
                creates_post=False,
                logging_in=True,
            )
        session = client._session
        if session is None:
            raise AuthenticationError(f"bluesky: logging in as @{self.handle} gave no session")
        self._client, self._did = client, session.did
        return client, session.did

    def _remember(self, event: SessionEvent, session: Session) -> None:
        """Keep a new or refreshed session (in memory, and in the session file if any)."""
        for token in (session.access_jwt, session.refresh_jwt):
            register_secret(token)
        self._session = session.export()
        if event is SessionEvent.IMPORT or self.session_file is None:
            return
        try:
            _write_private(
                self.session_file,
                json.dumps(
                    {"service": self.service, "handle": self.handle, "session": self._session}
                ),
            )
        except OSError as exc:
            log.warning(
                "bluesky: cannot keep the session of %s in %s (%s); it stays in memory",
                self.account_name,
                self.session_file,
                exc.strerror,
            )

    def _read_session_file(self) -> str | None:
        path = self.session_file
        if path is None:
            return None
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                log.warning(
                    "bluesky: ignoring %s: mode %04o, it must be readable by its owner only",
                    path,
                    mode,
                )
                return None
            stored = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(stored, dict)
            or stored.get("service") != self.service
            or stored.get("handle") != self.handle
            or not isinstance(stored.get("session"), str)
        ):
            return None
        session: str = stored["session"]
        for token in session.split(":::")[2:4]:
            register_secret(token)
        return session

    def _forget_session(self) -> None:
        self._session = None
        self.close()
        if self.session_file is not None:
            with contextlib.suppress(OSError):
                self.session_file.unlink()

    # -- errors -------------------------------------------------------------------------

    def _call(
        self,
        action: str,
        call: Callable[[], T],
        *,
        creates_post: bool,
        not_found_ok: bool = False,
        logging_in: bool = False,
    ) -> T:
        """Run one XRPC call and map whatever goes wrong to one outcome."""
        error: BaseException | None = None
        try:
            return call()
        except RequestErrorBase as exc:
            error = self._answer_error(exc, action, creates_post, not_found_ok, logging_in)
        except httpx.HTTPError as exc:  # e.g. RemoteProtocolError, which atproto passes on
            error = transport_error(
                exc, network="bluesky", action=action, creates_post=creates_post
            )
        except LoginRequiredError:  # the client holds no usable session
            error = _SessionRefused(action, "no usable session")
        except (ModelError, AtProtocolError, ValueError) as exc:
            name = type(exc).__name__
            if creates_post:
                error = _SentAmbiguous(
                    f"bluesky: {action}: unexpected {name}; it may have been published"
                )
            else:
                error = RetryableError(f"bluesky: {action}: unexpected {name}")
        # Raised outside the except blocks: library exceptions are not kept as context.
        raise error

    def _answer_error(
        self,
        exc: RequestErrorBase,
        action: str,
        creates_post: bool,
        not_found_ok: bool,
        logging_in: bool,
    ) -> BaseException:
        response = exc.response
        if response is None:  # no HTTP answer: a transport failure
            cause = exc.__cause__
            if isinstance(cause, httpx.HTTPError):
                return transport_error(
                    cause, network="bluesky", action=action, creates_post=creates_post
                )
            if isinstance(exc, InvokeTimeoutError):
                return sent_or_not(
                    f"bluesky: {action}: no answer in time", creates_post=creates_post
                )
            return sent_or_not(
                f"bluesky: {action}: the connection failed", creates_post=creates_post
            )
        status = response.status_code
        name, said = _xrpc_error(response.content)
        detail = redact(f"{name}: {said}" if said else name or f"HTTP {status}")
        where = f"bluesky: {action}: HTTP {status} {detail}"
        if not_found_ok and (name in ("RecordNotFound", "HandleNotFound") or status == 404):
            return _NotFound()
        if isinstance(exc, RateLimitExceededError) or status == 429:
            return RetryableError(f"{where}: rate limited", retry_after=self._retry_after(exc))
        if logging_in and status in (400, 401):
            return AuthenticationError(
                f"{where}: the handle or app password of account {self.account_name!r} is "
                f"not accepted; make a new app password for @{self.handle} (Settings, Privacy "
                "and security, App passwords)"
            )
        if name in SESSION_ERRORS or status == 401:
            return _SessionRefused(action, detail)
        if isinstance(exc, UnauthorizedError):  # 403: taken down, suspended, deactivated
            return AuthenticationError(f"{where}: the account cannot post; a person must look")
        if status >= 500 and creates_post:
            return _SentAmbiguous(
                f"{where}: the PDS failed after receiving the post; it may have been published",
                may_still_land=status in GATEWAY_STATUSES,
            )
        if isinstance(exc, NetworkError) and status == 409:
            return RetryableError(f"{where}: the PDS is having trouble")
        return status_error(where, status, creates_post=creates_post, who="the PDS")

    def _retry_after(self, exc: RequestErrorBase) -> float | None:
        """Seconds until the limit lifts: ``ratelimit-reset`` (Unix seconds), else
        ``retry-after`` (seconds or a date)."""
        headers = exc.response.headers if exc.response is not None else {}
        return wait_seconds(headers, now=self._clock(), resets=("ratelimit-reset",))


# -- internal signals -----------------------------------------------------------------------


class _SessionRefused(Exception):
    """The PDS refused the session (expired or revoked tokens): log in again, once."""

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(f"{action}: {detail}")
        self.action = action
        self.detail = detail


class _NotFound(Exception):
    """``RecordNotFound`` (or an unknown handle), where the caller expects it."""


class _SentAmbiguous(AmbiguousError):
    """The create may have been written. ``may_still_land``: a gateway answered (502, 504)
    or nothing did, so the PDS may still write it; a look-up that finds nothing does not
    prove it absent."""

    def __init__(self, message: str, *, may_still_land: bool = True) -> None:
        super().__init__(message)
        self.may_still_land = may_still_land


# -- helpers --------------------------------------------------------------------------------


def _xrpc_error(content: Any) -> tuple[str, str]:
    if isinstance(content, XrpcError):
        return content.error or "", content.message or ""
    if isinstance(content, dict):
        return str(content.get("error", "")), str(content.get("message", "") or "")
    return "", ""


def _record_field(value: Any, name: str) -> str | None:
    """A string field of a record (``text``, ``created_at``), as a model or a dict."""
    if isinstance(value, dict):
        found = value.get(name, value.get("createdAt") if name == "created_at" else None)
    else:
        found = getattr(value, name, None)
    return found if isinstance(found, str) else None


def _languages(language: str) -> list[str] | None:
    """``cy``, ``en`` or ``cy+en`` as BCP-47 tags for the record's ``langs``."""
    tags = [part.strip() for part in language.replace(",", "+").split("+") if part.strip()]
    return tags[:MAX_LANGS] or None


# JPEG start-of-frame markers (SOF0-3, 5-7, 9-11, 13-15): they carry the dimensions.
_JPEG_FRAME_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG, for the aspect ratio Bluesky shows it with."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return (width, height) if width and height else None
    if data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data):
            if data[at] != 0xFF:
                return None
            marker = data[at + 1]
            (length,) = struct.unpack(">H", data[at + 2 : at + 4])
            if marker in _JPEG_FRAME_MARKERS:
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return (width, height) if width and height else None
            at += 2 + length
    return None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
