"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses (no private,
loopback, link-local, multicast or reserved ones), unless the deployment allows private ones.
Checked when an endpoint is saved and again before every attempt (DNS can change)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    pass


def check_url(url: str) -> str:
    """The host of a well-formed http(s) URL; TargetRefused otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise TargetRefused("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("url must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("url must not carry credentials")
    if len(url) > 2048:
        raise TargetRefused("url is longer than 2048 characters")
    return parts.hostname


async def check_target(url: str, allow_private: bool) -> None:
    host = check_url(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise TargetRefused(f"host {host!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise TargetRefused(f"host {host!r} resolves to {address}, a private, loopback, "
                                "link-local or reserved address; webhooks go to public hosts")
