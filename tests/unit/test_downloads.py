"""downloadUrl in each DOWNLOAD_URL_MODE, and presigned URLs signed for the right endpoint."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from craftkit.config import ConfigError, Downloads, Storage
from craftkit.downloads import DownloadUrls, Presigner

STORAGE = Storage("http://minio.internal:9000", "ak", "sk", "pdfs", "eu-west-1",
                  "https://files.example.com/pdfs")


def test_presigning_signs_for_the_endpoint_given_and_asks_s3_nothing():
    # minio.internal does not resolve: any network call would fail.
    url = Presigner(STORAGE, "https://s3.example.com").url("renders/r/Invoice #1.pdf", 90)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "s3.example.com",
                                                        "/pdfs/renders/r/Invoice%20%231.pdf")
    assert query["X-Amz-Expires"] == ["90"] and "eu-west-1" in query["X-Amz-Credential"][0]


def test_public_mode_shows_the_stored_url_and_stores_it():
    urls = DownloadUrls(Downloads("public", 60, ""), STORAGE)
    assert urls.of("renders/r/a.pdf", "https://files.example.com/pdfs/renders/r/a.pdf") == (
        "https://files.example.com/pdfs/renders/r/a.pdf", 0)
    assert urls.stored("https://files.example.com/pdfs/renders/r/a.pdf") is not None


def test_none_mode_shows_and_stores_no_url():
    urls = DownloadUrls(Downloads("none", 60, ""), STORAGE)
    assert urls.of("renders/r/a.pdf", "https://files.example.com/x") == ("", 0)
    assert urls.stored("https://files.example.com/x") is None


def test_presigned_mode_signs_a_url_that_expires_after_the_ttl():
    urls = DownloadUrls(Downloads("presigned", 3600, "https://s3.example.com"), STORAGE)
    before = int(time.time() * 1000)
    url, expires_at_ms = urls.of("renders/r/a.pdf", "")
    assert url.startswith("https://s3.example.com/pdfs/renders/r/a.pdf?")
    assert before + 3600_000 <= expires_at_ms <= time.time() * 1000 + 3600_000
    assert urls.of("", "") == ("", 0)  # no PDF (not succeeded): no URL
    assert urls.stored("https://files.example.com/x") is None


@pytest.mark.parametrize("env, said", [
    ({"DOWNLOAD_URL_MODE": "signed"}, "must be one of public, presigned, none"),
    ({"DOWNLOAD_URL_MODE": "public"}, "needs S3_PUBLIC_BASE_URL"),
    ({"DOWNLOAD_URL_MODE": "presigned", "DOWNLOAD_URL_TTL_SECONDS": "604801"}, "1 to 604800"),
    ({"DOWNLOAD_URL_MODE": "presigned", "DOWNLOAD_URL_TTL_SECONDS": "0"}, "1 to 604800"),
    ({"DOWNLOAD_URL_MODE": "presigned", "DOWNLOAD_URL_ENDPOINT": "s3.example.com"},
     "http:// or https://"),
])
def test_bad_settings_fail_at_start_naming_the_variable(monkeypatch, env, said):
    monkeypatch.delenv("S3_PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("S3_ENDPOINT", "http://minio:9000")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=said):
        Downloads.from_env()


@pytest.mark.parametrize("public_base, mode", [("https://files.example.com/b", "public"),
                                               ("", "none")])
def test_the_mode_defaults_to_public_only_with_a_public_base(monkeypatch, public_base, mode):
    monkeypatch.delenv("DOWNLOAD_URL_MODE", raising=False)
    monkeypatch.setenv("S3_PUBLIC_BASE_URL", public_base)
    monkeypatch.setenv("S3_ENDPOINT", "http://minio:9000")
    settings = Downloads.from_env()
    assert (settings.mode, settings.ttl_seconds, settings.endpoint) == (
        mode, 86400, "http://minio:9000")
