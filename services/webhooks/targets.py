"""Where webhooks may go.

`check_url` is the shape, checked when an endpoint is saved (create and update): an http(s) URL of
at most 2048 characters, no control characters or spaces, no credentials, no fragment, and a host
that is a valid IP literal or a DNS name (labels of at most 63 octets, 253 in all; non-ASCII names
must be valid IDNA 2008, encoded by the same `idna` package httpx encodes them with, so what is
accepted here is exactly what is sent).

`check_target` is the address: the host is resolved once and every address it resolves to must be
outside the IANA IPv4 and IPv6 special-purpose registries (`SPECIAL`; addresses that embed an IPv4
address - IPv4-mapped and -compatible, NAT64, 6to4, Teredo - are judged by the embedded one), unless
the deployment allows private targets. The delivery then connects to that checked address (see
`pinned`), never resolving the name a second time: a DNS answer that changes in between (DNS
rebinding) is never used.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network
from urllib.parse import urlsplit

import httpcore
import httpx
import idna

from craftkit.errors import shorten

MAX_URL = 2048
MAX_HOST = 253
MAX_LABEL = 63


class TargetRefused(ValueError):
    pass


Address = IPv4Address | IPv6Address


def _low32(address: IPv6Address) -> list[IPv4Address]:
    return [IPv4Address(int(address) & 0xFFFFFFFF)]


def _teredo(address: IPv6Address) -> list[IPv4Address]:
    return list(address.teredo or ())


def _sixtofour(address: IPv6Address) -> list[IPv4Address]:
    return [address.sixtofour] if address.sixtofour else []


# The IANA IPv4 and IPv6 special-purpose address registries (and multicast), most specific first:
# (network, name, embedded IPv4 extractor or None). Every entry is refused, except those that embed
# an IPv4 address, which are refused when the embedded address is. Entries that IANA marks
# "globally reachable" (AS112, AMT, TURN/PCP anycast, ORCHIDv2) are refused too: no webhook
# receiver lives there.
SPECIAL: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str,
                    Callable[[IPv6Address], list[IPv4Address]] | None]] = [
    (ip_network(net), name, extract) for net, name, extract in [
        ("0.0.0.0/8", "'this network'", None),
        ("10.0.0.0/8", "private-use", None),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)", None),
        ("127.0.0.0/8", "loopback", None),
        ("169.254.0.0/16", "link-local", None),
        ("172.16.0.0/12", "private-use", None),
        ("192.0.0.0/24", "IETF protocol assignments", None),
        ("192.0.2.0/24", "documentation (TEST-NET-1)", None),
        ("192.31.196.0/24", "AS112-v4", None),
        ("192.52.193.0/24", "AMT", None),
        ("192.88.99.0/24", "6to4 relay anycast", None),
        ("192.168.0.0/16", "private-use", None),
        ("192.175.48.0/24", "direct delegation AS112 service", None),
        ("198.18.0.0/15", "benchmarking", None),
        ("198.51.100.0/24", "documentation (TEST-NET-2)", None),
        ("203.0.113.0/24", "documentation (TEST-NET-3)", None),
        ("224.0.0.0/4", "multicast", None),
        ("240.0.0.0/4", "reserved (and limited broadcast)", None),
        ("::/128", "the unspecified address", None),
        ("::1/128", "loopback", None),
        ("::ffff:0:0/96", "IPv4-mapped", _low32),
        ("::/96", "IPv4-compatible", _low32),
        ("64:ff9b::/96", "NAT64 (well-known prefix)", _low32),
        ("64:ff9b:1::/48", "NAT64 (local-use prefix)", None),
        ("100::/64", "discard-only", None),
        ("100:0:0:1::/64", "dummy IPv6 prefix", None),
        ("2001::/32", "Teredo", _teredo),
        ("2001::/23", "IETF protocol assignments", None),
        ("2001:db8::/32", "documentation", None),
        ("2002::/16", "6to4", _sixtofour),
        ("2620:4f:8000::/48", "direct delegation AS112 service", None),
        ("3fff::/20", "documentation", None),
        ("5f00::/16", "segment routing (SRv6) SIDs", None),
        ("fc00::/7", "unique-local", None),
        ("fe80::/10", "link-local", None),
        ("fec0::/10", "site-local (deprecated)", None),
        ("ff00::/8", "multicast", None),
    ]
]
GLOBAL_UNICAST = ip_network("2000::/3")


def refusal(address: Address) -> str | None:
    """Why a webhook may not go to `address` (naming the registry entry), or None."""
    for network, name, extract in SPECIAL:
        if address.version != network.version or address not in network:
            continue
        if extract is None:
            return f"{address} is in {network}, {name}"
        for inner in extract(address):
            reason = refusal(inner)
            if reason:
                return f"{address} is {name} ({network}) for {reason}"
        return None
    if address.version == 6 and address not in GLOBAL_UNICAST:
        return f"{address} is outside the global unicast range {GLOBAL_UNICAST}"
    return None


def _bad_character(url: str) -> str | None:
    for position, char in enumerate(url):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn") or char.isspace():
            kind = "a space" if char.isspace() else "a control or invalid character"
            return f"{kind} (U+{ord(char):04X}) at position {position}"
    return None


LDH = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")
NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")


def _check_host(host: str) -> None:
    """A DNS name as httpx will send it: IDNA-encoded, LDH labels, length limits."""
    name = host[:-1] if host.endswith(".") else host
    if not name.isascii():
        try:
            name = idna.encode(name.lower()).decode("ascii")
        except idna.IDNAError as exc:
            raise TargetRefused("url's host is not a valid internationalised (IDNA) name: "
                                f"{shorten(str(exc))}") from None
    labels = name.lower().split(".")
    for label in labels:
        if len(label) > MAX_LABEL:
            raise TargetRefused(f"url's host has a label of {len(label)} octets; "
                                f"at most {MAX_LABEL} are allowed")
        if not LDH.fullmatch(label):
            raise TargetRefused(f"url's host has an invalid label {shorten(label)}: use letters, "
                                "digits and hyphens (not at either end)")
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError:
                raise TargetRefused(f"url's host label {label!r} is not valid IDNA") from None
    if len(name) > MAX_HOST:
        raise TargetRefused(f"url's host is {len(name)} octets long; at most {MAX_HOST} are allowed")
    if NUMERIC.fullmatch(labels[-1]):
        raise TargetRefused("url's host looks like an IPv4 address but is not a valid one "
                            "(write it as four decimal numbers, a.b.c.d)")


def check_url(url: str) -> str:
    """The host of a well-formed http(s) URL as the delivery connects to it (IDNA-encoded);
    TargetRefused saying what is wrong otherwise."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"url is {len(url)} characters long; at most {MAX_URL} are allowed")
    bad = _bad_character(url)
    if bad:
        raise TargetRefused(f"url contains {bad}: {shorten(url)}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"url is not a valid URL ({shorten(str(exc))}): {shorten(url)}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"url must be an http:// or https:// URL with a host: {shorten(url)}")
    if "@" in parts.netloc:
        raise TargetRefused("url must not carry credentials (user:password@)")
    if "#" in url:
        raise TargetRefused(f"url must not have a fragment (#...): {shorten(url)}")
    if port == 0:
        raise TargetRefused("url's port must be between 1 and 65535")
    if parts.netloc.rpartition("[")[1]:
        try:
            IPv6Address(parts.hostname)
        except ValueError:
            raise TargetRefused(f"url's host {shorten(parts.hostname)} is not a valid IPv6 "
                                "address") from None
    else:
        try:
            IPv4Address(parts.hostname)
        except ValueError:
            _check_host(parts.hostname)
    try:
        # The last word: the client that sends it must take it. raw_host is what it connects to.
        return httpx.URL(url).raw_host.decode("ascii")
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"url is not a valid URL ({shorten(str(exc))}): {shorten(url)}") from None


@dataclass(frozen=True)
class Target:
    host: str
    address: str
    """The checked address the delivery connects to (it never resolves `host` again)."""


async def resolve(host: str) -> list[str]:
    """Every address `host` resolves to, in the resolver's order (IP literals are themselves)."""
    try:
        return [str(ipaddress.ip_address(host))]  # no thread hop for the resolver
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        infos = []
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise TargetRefused(f"host {shorten(host)} does not resolve")
    return addresses


async def check_target(url: str, allow_private: bool) -> Target:
    """The URL's shape, then its host resolved once and every address checked (all pass with
    `allow_private`); returns the address the delivery is to connect to."""
    host = check_url(url)
    addresses = await resolve(host)
    if not allow_private:
        for address in addresses:
            reason = refusal(ipaddress.ip_address(address.split("%")[0]))
            if reason:
                raise TargetRefused(f"webhooks go to public hosts only: {shorten(host)} "
                                    f"resolves to {reason}")
    return Target(host, addresses[0])


# The address the current delivery checked, for `PinnedBackend` to connect to. A context variable:
# each delivery is its own task, and httpcore opens connections in the requesting task.
PINNED: contextvars.ContextVar[str] = contextvars.ContextVar("pinned_address")


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the address `check_target` checked for this delivery, whatever host httpcore
    asks for; it never resolves a name, and refuses to connect when no address was checked. The
    URL keeps its host, so the Host header, TLS SNI and the certificate check are for the name,
    and pooled connections are keyed by it (a connection is only ever to a checked address)."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = PINNED.get(None)
        if address is None:
            raise httpcore.ConnectError(f"no checked address to connect to for {host!r}")
        return await self.inner.connect_tcp(address, port, timeout=timeout,
                                            local_address=local_address,
                                            socket_options=socket_options)

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks do not go to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def pinned_client(*, timeout: float, connections: int) -> httpx.AsyncClient:
    """An httpx client whose connections go only to addresses set in PINNED."""
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections))
    # httpx takes no network backend; httpcore's pool does. One pool, as httpx would build it.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=connections,
        max_keepalive_connections=connections, keepalive_expiry=5.0,
        network_backend=PinnedBackend())
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                             trust_env=False)


async def post(client: httpx.AsyncClient, url: str, *, allow_private: bool, content: bytes,
               headers: dict[str, str]) -> httpx.Response:
    """Checks the target (resolving its host once), then POSTs to the checked address."""
    target = await check_target(url, allow_private)
    token = PINNED.set(target.address)
    try:
        return await client.post(url, content=content, headers=headers)
    finally:
        PINNED.reset(token)
