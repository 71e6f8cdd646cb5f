"""Serving behind the HTTPS reverse proxy with waitress.

Waitress drops every ``X-Forwarded-*`` header it was not told to trust before the app
sees it (``clear_untrusted_proxy_headers``), so werkzeug's ProxyFix behind it has nothing
to read: the cookie was never ``Secure`` and the client's address was lost. Here waitress
is told which address the proxy connects from and which headers to believe; from that
address it sets ``REMOTE_ADDR`` and the scheme from the last hop the proxy added, and
from anyone else it drops the headers, so a client cannot claim another address."""

from __future__ import annotations

from typing import Any

# The proxy sets both (docs/service.md); the Host header is passed on as it is.
TRUSTED_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto"})


def waitress_options(trusted_proxy: str | None) -> dict[str, Any]:
    """``create_server`` options: none directly exposed, or trust one proxy at
    ``trusted_proxy`` (an address; ``*`` is refused, it would trust anyone)."""
    if trusted_proxy is None:
        return {}
    if not trusted_proxy.strip() or trusted_proxy.strip() == "*":
        raise ValueError("name the proxy's own address, not every address")
    return {
        "trusted_proxy": trusted_proxy.strip(),
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": set(TRUSTED_HEADERS),
        "clear_untrusted_proxy_headers": True,
        "log_untrusted_proxy_headers": False,
    }
