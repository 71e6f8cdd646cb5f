"""HTTP plumbing shared by the ``requests``-based channels (X, Facebook, Mastodon).

- ``ChannelSession``: a ``requests.Session`` where every request has a timeout (tweepy's
  ``Client`` passes none, and a stalled call would hang a worker thread) and a network's
  fixed host can be routed elsewhere (tests, sandboxes: ``api_base_url``). Routing
  happens before the request is prepared, so an OAuth 1.0a signature covers the URL
  actually sent. The environment's proxy settings are read once per origin for the
  process, not on every request.
- A failure to talk to the network becomes an outcome in ``outcomes.transport_error``
  (rows ``*-refused``, ``*-connect-timeout``, ``*-read-timeout`` and ``*-dropped`` of
  ``docs/error-outcomes.md``).
- ``identify_duplicate``: a duplicate-content refusal, with the existing post's id when
  the network's recent posts show it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

from core.errors import AlreadyPublished, ChannelError

from .base import Channel, OutgoingPost

if TYPE_CHECKING:
    from requests.sessions import _Settings


class TimeoutAdapter(HTTPAdapter):
    """An adapter that applies ``timeout`` to every request that does not set its own."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(  # type: ignore[override]  # same parameters; only the default differs
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class ChannelSession(requests.Session):
    """A session with a default timeout and optional host routing (``{prefix: target}``)."""

    def __init__(self, timeout: float, routes: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.routes = {k.rstrip("/"): v.rstrip("/") for k, v in (routes or {}).items()}
        adapter = TimeoutAdapter(timeout)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def route(self, url: str) -> str:
        for prefix, target in self.routes.items():
            if url == prefix or url.startswith(prefix + "/"):
                return target + url[len(prefix) :]
        return url

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        """requests' merge, with the environment's part read once per origin for the
        process (``environment``) when the request sets none of these itself, as every
        request of ours does. requests reads the proxies on every request by walking the
        whole environment, where each account's tokens are variables: with hundreds of
        accounts that was a third of a send's CPU."""
        if (
            not self.trust_env
            or not isinstance(url, str)
            or proxies
            or stream is not None
            or verify is not None
            or cert is not None
        ):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        env_proxies, env_verify = environment(parts.scheme, parts.netloc)
        # As requests merges them: the request's (here the environment's) over the session's.
        return {
            "proxies": merge_setting(dict(env_proxies), self.proxies),
            "stream": self.stream,
            "verify": merge_setting(env_verify, self.verify),
            "cert": self.cert,
        }

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if isinstance(request.url, str):
            request.url = self.route(request.url)
        return super().prepare_request(request)


@functools.lru_cache(maxsize=64)
def environment(scheme: str, netloc: str) -> tuple[dict[str, str], str | None]:
    """The proxies and CA bundle the environment sets for requests to this origin, as
    requests reads them. A worker's environment does not change while it runs (tests that
    change it call ``environment.cache_clear()``)."""
    url = f"{scheme}://{netloc}/"
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
    return get_environ_proxies(url), verify


def identify_duplicate(
    duplicate: AlreadyPublished, channel: Channel, post: OutgoingPost
) -> AlreadyPublished:
    """``duplicate`` with the existing post's id and URL if ``find`` can tell (best effort).

    Neither X nor Facebook says which post already holds the content; their recent posts
    may. A failure to look is not an error here: the duplicate answer stands on its own.
    """
    try:
        found = channel.find(post)
    except ChannelError:
        found = None
    if found is None:
        return duplicate
    return AlreadyPublished(str(duplicate), remote_id=found.remote_id, url=found.url)
