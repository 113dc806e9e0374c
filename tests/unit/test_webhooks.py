import asyncio
import hashlib
import hmac
import json
import socket
import ssl
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from ipaddress import ip_address

import httpx
import pytest
import trustme

from craftkit import errors
from services.webhooks import endpoints, signing, targets
from services.webhooks.deliveries import Deliverer, backoff
from services.webhooks.settings import Settings
from services.webhooks.signing import headers, payload
from services.webhooks.targets import TargetRefused, check_target, check_url, refusal


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
    "http://192.168.0.10/", "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/",
])
async def test_private_loopback_and_link_local_targets_are_refused(url):
    with pytest.raises(TargetRefused, match="webhooks go to public hosts"):
        await check_target(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost",
                                 "https://user:pw@example.com/", "gopher://x/"])
async def test_only_http_urls_with_a_host(url):
    with pytest.raises(TargetRefused):
        await check_target(url, allow_private=True)


async def test_public_addresses_pass_and_the_dev_switch_allows_private_ones():
    assert (await check_target("https://93.184.215.14/hook", allow_private=False)).address == \
        "93.184.215.14"
    assert (await check_target("http://127.0.0.1:9/hook", allow_private=True)).address == "127.0.0.1"


@pytest.mark.parametrize("url, says", [
    ("http://example.com/\u0001", "control or invalid character (U+0001) at position 19"),
    ("http://example.com/\u0000", "(U+0000)"),
    ("http://exa\u200bmple.com/", "(U+200B)"),
    ("http://example.com/a b", "a space (U+0020)"),
    ("http://example.com/\u3000", "a space (U+3000)"),
    ("http://example.com\t/", "(U+0009)"),
    ("http://" + "a" * 64 + ".example.com/", "a label of 64 octets; at most 63"),
    ("http://" + ".".join(["a" * 60] * 5) + "/", "host is 304 octets long; at most 253"),
    ("http://\u2603.example/", "not a valid internationalised (IDNA) name"),
    ("http://xn--a.example/", "label 'xn--a' is not valid IDNA"),
    ("http://-bad.example/", "invalid label '-bad'"),
    ("http://ex%41mple.com/", "invalid label"),
    ("http://a..example/", "invalid label ''"),
    ("http://2130706433/", "not a valid one"),
    ("http://0x7f.1/", "not a valid one"),
    ("http://[12345::1]/", "not a valid"),
    ("ftp://example.com/", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("https://user:pw@example.com/", "credentials"),
    ("https://example.com/#frag", "fragment"),
    ("https://example.com:0/", "port"),
    ("https://example.com:65536/", "Port out of range"),
    ("https://example.com/" + "x" * 2100, "2120 characters long; at most 2048"),
])
def test_urls_are_checked_when_saved_and_the_message_says_what_is_wrong(url, says):
    with pytest.raises(TargetRefused) as refused:
        check_url(url)
    assert says in str(refused.value)
    assert len(str(refused.value)) < 300  # echoes at most ~100 characters of the URL


@pytest.mark.parametrize("url, host", [
    ("https://example.com/hook?x=1", "example.com"),
    ("https://B\u00fccher.example/hook", "xn--bcher-kva.example"),  # as httpx will send it
    ("http://[2001:4860:4860::8888]:8080/", "2001:4860:4860::8888"),
    ("http://8.8.8.8/", "8.8.8.8"),
    ("https://my_host.example.com./", "my_host.example.com."),
])
def test_good_urls_pass_with_the_host_the_delivery_connects_to(url, host):
    assert check_url(url) == host


@pytest.mark.parametrize("address, network", [
    ("0.1.2.3", "0.0.0.0/8"), ("10.1.2.3", "10.0.0.0/8"), ("100.64.0.1", "100.64.0.0/10"),
    ("127.0.0.1", "127.0.0.0/8"), ("169.254.169.254", "169.254.0.0/16"),
    ("172.31.0.1", "172.16.0.0/12"), ("192.0.0.9", "192.0.0.0/24"), ("192.0.2.1", "192.0.2.0/24"),
    ("192.31.196.1", "192.31.196.0/24"), ("192.52.193.1", "192.52.193.0/24"),
    ("192.88.99.1", "192.88.99.0/24"), ("192.168.1.1", "192.168.0.0/16"),
    ("192.175.48.1", "192.175.48.0/24"), ("198.19.255.1", "198.18.0.0/15"),
    ("198.51.100.1", "198.51.100.0/24"), ("203.0.113.1", "203.0.113.0/24"),
    ("224.0.0.1", "224.0.0.0/4"), ("255.255.255.255", "240.0.0.0/4"),
    ("::", "::/128"), ("::1", "::1/128"), ("64:ff9b:1::a", "64:ff9b:1::/48"),
    ("100::1", "100::/64"), ("2001:2::1", "2001::/23"), ("2001:db8::1", "2001:db8::/32"),
    ("2620:4f:8000::1", "2620:4f:8000::/48"), ("3fff::1", "3fff::/20"), ("5f00::1", "5f00::/16"),
    ("fd12::1", "fc00::/7"), ("fe80::1", "fe80::/10"), ("fec0::1", "fec0::/10"),
    ("ff02::1", "ff00::/8"), ("4000::1", "outside the global unicast range 2000::/3"),
])
def test_special_purpose_addresses_are_refused_naming_their_network(address, network):
    assert network in refusal(ip_address(address))


@pytest.mark.parametrize("address, kind, inner", [
    ("::ffff:127.0.0.1", "IPv4-mapped", "127.0.0.0/8"),
    ("::10.0.0.1", "IPv4-compatible", "10.0.0.0/8"),
    ("64:ff9b::169.254.169.254", "NAT64", "169.254.0.0/16"),
    ("2002:c0a8:0101::1", "6to4", "192.168.0.0/16"),
    ("2002:6440:0001::1", "6to4", "100.64.0.0/10"),
    # Teredo: server 65.54.227.120, client 192.0.2.45 (stored inverted in the last 32 bits)
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo", "192.0.2.0/24"),
    ("2001:0:7f00:1::1", "Teredo", "127.0.0.0/8"),  # the server's address is checked too
])
def test_embedded_ipv4_addresses_are_extracted_and_checked(address, kind, inner):
    reason = refusal(ip_address(address))
    assert kind in reason and inner in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"])
def test_public_addresses_and_public_embedded_ones_pass(address):
    assert refusal(ip_address(address)) is None


def test_the_payload_is_the_seeds_and_the_signatures_verify():
    event = {"event": "render.succeeded", "renderId": "r", "projectId": "p", "templateId": "t",
             "status": "succeeded", "downloadUrl": "https://x/y.pdf", "errorMessage": None,
             "createdAt": "2026-05-03T10:14:00.000Z", "completedAt": "2026-05-03T10:14:00.150Z",
             "durationMs": 150}
    body = payload(event)
    assert list(json.loads(body)) == ["event", "renderId", "templateId", "status", "downloadUrl",
                                      "errorMessage", "createdAt", "completedAt"]
    sent = headers(event="render.succeeded", delivery_id="d", timestamp=1777802040, body=body,
                   secret="new", previous_secret="old")
    mac = lambda key, msg: hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()  # noqa: E731
    assert sent["x-craftkit-signature"] == mac("new", body)
    assert sent["x-craftkit-signature-previous"] == mac("old", body)
    assert sent["x-craftkit-signature-v2"] == mac("new", b"1777802040." + body)
    assert "x-craftkit-signature-previous" not in headers(
        event="e", delivery_id="d", timestamp=1, body=body, secret="new")


def test_backoff_doubles_with_jitter_up_to_the_cap():
    for attempt, nominal in ((1, 10), (2, 20), (3, 40), (10, 3600), (30, 3600)):
        delay = backoff(attempt, 10, 3600)
        assert 0.8 * nominal <= delay <= 1.2 * nominal


def test_the_default_schedule_retries_for_at_least_24_hours(monkeypatch):
    from services.webhooks.settings import Settings
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    monkeypatch.setenv("INTERNAL_TOKENS_DIR", "/unused")
    settings = Settings.from_env()
    # the last attempt comes at the latest one (jittered) capped delay before giving up
    assert settings.give_up_seconds - 1.2 * settings.retry_cap_seconds >= 24 * 3600


# --- deliveries connect to the address that was checked -------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.got.append((self.headers["host"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    server.got = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """`rebind.test` resolves to 127.0.0.1 the first time, then to 192.0.2.1 (where nothing
    answers): the DNS-rebinding attacker's resolver. Every lookup of it is counted."""
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("rebind.test", b"rebind.test"):
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "192.0.2.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


async def test_the_delivery_connects_to_the_checked_address_not_a_later_dns_answer(
        receiver, rebinding_dns):
    port = receiver.server_address[1]
    async with targets.pinned_client(timeout=5, connections=4) as client:
        response = await targets.post(client, f"http://rebind.test:{port}/hook", content=b"{}",
                                      headers={}, allow_private=True)
    assert response.status_code == 204
    assert receiver.got == [(f"rebind.test:{port}", b"{}")]  # the original Host header
    assert len(rebinding_dns) == 1  # resolved once, for the check


async def test_a_refused_answer_sends_nothing(receiver, rebinding_dns):
    async with targets.pinned_client(timeout=5, connections=4) as client:
        with pytest.raises(TargetRefused, match="127.0.0.0/8, loopback"):
            await targets.post(client, f"http://rebind.test:{receiver.server_address[1]}/",
                               content=b"{}", headers={}, allow_private=False)
    assert receiver.got == []


async def test_the_pinned_client_never_resolves_on_its_own(receiver):
    async with targets.pinned_client(timeout=5, connections=4) as client:
        with pytest.raises(httpx.ConnectError, match="no checked address"):
            await client.post(f"http://localhost:{receiver.server_address[1]}/", content=b"{}")
    assert receiver.got == []


async def test_tls_to_the_pinned_address_checks_the_certificate_for_the_hostname(
        rebinding_dns, monkeypatch):
    """SNI and the certificate check are for the URL's name, though the connection goes to the
    checked address; a certificate for another name is refused."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("rebind.test").configure_cert(server_context)
    seen_sni = []
    server_context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    monkeypatch.setattr(httpx, "create_ssl_context", lambda: client_context)
    try:
        async with targets.pinned_client(timeout=5, connections=4) as client:
            response = await targets.post(client, f"https://rebind.test:{port}/", content=b"{}",
                                          headers={}, allow_private=True)
            assert response.status_code == 204 and seen_sni == ["rebind.test"]
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await targets.post(client, f"https://127.0.0.1:{port}/", content=b"{}",
                                   headers={}, allow_private=True)
    finally:
        server.close()
        await server.wait_closed()


# --- any failure in a delivery is a failed attempt ------------------------------------------

def settings(**overrides) -> Settings:
    from craftkit.config import Database, Downloads, Kafka
    from craftkit.internal_auth import ServerSecurity
    values = dict(
        database=Database("postgresql://unused", 1),
        kafka=Kafka("unused:9092", "render.jobs", "render.events", 1, 5.0),
        listen="127.0.0.1:0", security=ServerSecurity("/unused", "", "", ""), group="g", allow_private_targets=True, timeout_seconds=2,
        retry_base_seconds=10, retry_cap_seconds=3600, give_up_seconds=3600, per_endpoint=4,
        concurrency=64, breaker_after_seconds=60, breaker_pause_seconds=60,
        stall_after_seconds=60, downloads=Downloads("public", 86400, ""), storage=None)
    values.update(overrides)
    return Settings(**values)


def row(url: str, **overrides) -> dict:
    return {"id": uuid.uuid4(), "endpoint_id": uuid.uuid4(), "event": "render.succeeded",
            "payload": b"{}", "attempts": 2, "url": url, "secret": "whsec_x", "previous": None,
            "object_key": None, "trace_context": None,
            "give_up_at": datetime.now(timezone.utc) + timedelta(hours=1), **overrides}


@pytest.mark.parametrize("url, extra, error", [
    ("http://example.com/\u0001", {}, "control or invalid character (U+0001)"),
    ("http://exa mple.com/", {}, "a space"),
    ("http://127.0.0.1:1/", {}, "ConnectError"),  # nothing listens on port 1
    ("http://127.0.0.1:1/", {"secret": None}, "AttributeError"),  # a bug, say
    ("http://127.0.0.1:1/", {"event": "render.\u2603"}, "UnicodeEncodeError"),  # headers
])
async def test_any_failure_is_a_recorded_attempt_and_releases_the_slot(url, extra, error):
    deliverer = Deliverer(pool=None, settings=settings())

    async def no_flush():
        pass

    deliverer.flush = no_flush
    delivery = row(url, **extra)
    deliverer.in_flight[delivery["endpoint_id"]] += 1  # as claim() does
    await deliverer.deliver(delivery)
    [(delivery_id, number, code, recorded, _, _, delay)] = deliverer.outcomes
    assert (delivery_id, number, code) == (delivery["id"], 3, None)
    assert error in recorded and len(recorded) < 400
    assert 0.8 * 40 <= delay <= 1.2 * 40  # the third attempt's place on the schedule
    assert not deliverer.in_flight
    await deliverer.client.aclose()


# --- downloadUrl as DOWNLOAD_URL_MODE makes it at each attempt --------------------------------

RECORDED = signing.payload({"event": "render.succeeded", "renderId": "r", "status": "succeeded",
                            "downloadUrl": "https://files.example.com/b/renders/r/a.pdf"})


@pytest.mark.parametrize("mode, object_key, expected", [
    ("public", "renders/r/a.pdf", "https://files.example.com/b/renders/r/a.pdf"),
    ("none", "renders/r/a.pdf", None),
    ("presigned", None, "https://files.example.com/b/renders/r/a.pdf"),  # a failed render: as is
])
async def test_the_body_keeps_or_drops_the_recorded_download_url(mode, object_key, expected):
    from craftkit.config import Downloads, Storage
    storage = Storage("http://s3.internal:9000", "ak", "sk", "pdfs", "us-east-1", "")
    deliverer = Deliverer(pool=None, settings=settings(
        downloads=Downloads(mode, 60, "https://s3.example.com"), storage=storage))
    body = deliverer.body(row("http://x/", payload=RECORDED, object_key=object_key))
    assert json.loads(body)["downloadUrl"] == expected
    await deliverer.client.aclose()


async def test_presigned_mode_signs_a_fresh_public_url_for_each_attempt():
    from craftkit.config import Downloads, Storage
    storage = Storage("http://s3.internal:9000", "ak", "sk", "pdfs", "us-east-1", "")
    deliverer = Deliverer(pool=None, settings=settings(
        downloads=Downloads("presigned", 60, "https://s3.example.com"), storage=storage))
    body = json.loads(deliverer.body(row("http://x/", payload=RECORDED,
                                         object_key="renders/r/a.pdf")))
    assert body["downloadUrl"].startswith("https://s3.example.com/pdfs/renders/r/a.pdf?")
    assert "X-Amz-Expires=60" in body["downloadUrl"]
    assert list(body) == list(signing.PAYLOAD_FIELDS)  # the seeds' fields, in their order
    await deliverer.client.aclose()


def test_render_cancelled_is_an_event_to_list_not_a_default_one():
    assert endpoints._events([]) == ["render.failed", "render.succeeded"]  # the seeds' two
    assert endpoints._events(["render.cancelled", "render.failed"]) == [
        "render.cancelled", "render.failed"]
    with pytest.raises(errors.InvalidRequest) as refused:
        endpoints._events(["render.expired"])
    assert "render.cancelled" in refused.value.message
