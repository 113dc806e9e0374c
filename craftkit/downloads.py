"""Presigned S3 GETs of rendered PDFs, and what a render's downloadUrl says in each
DOWNLOAD_URL_MODE (status for GET /v1/renders/{id}, webhooks at each delivery).

Presigning is local computation (an HMAC over the URL, ~30 µs): with the region given, the minio
SDK asks S3 nothing. The host is part of the signature, so a URL must be signed for the endpoint
its user reaches: S3_ENDPOINT for the gateway's streams, DOWNLOAD_URL_ENDPOINT for clients.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

from minio import Minio

from craftkit.config import Downloads, Storage

DEFAULT_LINK_SECONDS = 7 * 24 * 3600
MAX_LINK_SECONDS = 90 * 24 * 3600
MAX_DOWNLOADS = 1_000_000
"""A share link's terms: expiresIn 1 s to 90 days (default 7), maxDownloads 1 to a million or
unlimited. Checked by the gateway (the field names in 400s) and by DownloadService."""

STREAM_URL_SECONDS = 60
"""How long the URL the gateway streams from works: enough to start the GET, too short to matter
if it leaked (it only ever travels between two of our processes)."""


class Presigner:
    """Signs GETs of objects in S3_BUCKET for one endpoint."""

    def __init__(self, storage: Storage, endpoint: str) -> None:
        url = urlsplit(endpoint)
        self.bucket = storage.bucket
        self.client = Minio(url.netloc, access_key=storage.access_key,
                            secret_key=storage.secret_key, secure=url.scheme == "https",
                            region=storage.region)

    def url(self, key: str, seconds: int) -> str:
        return self.client.presigned_get_object(self.bucket, key,
                                                expires=timedelta(seconds=seconds))


class DownloadUrls:
    """downloadUrl of a render: public (as the worker stored it), presigned (fresh), or none."""

    def __init__(self, settings: Downloads, storage: Storage | None) -> None:
        self.mode = settings.mode
        self.ttl_seconds = settings.ttl_seconds
        self.presigner = (Presigner(storage, settings.endpoint)
                          if settings.mode == "presigned" else None)

    def stored(self, url: str) -> str | None:
        """What FinishRender keeps in renders.download_url (and so in the completion event): the
        public URL in public mode only; the other modes make theirs when read."""
        return (url or None) if self.mode == "public" else None

    def of(self, object_key: str, stored_url: str) -> tuple[str, int]:
        """(downloadUrl, its expiry in epoch ms, 0 if none) of a render whose PDF is at
        `object_key` ("" when it has none: not succeeded, or expired)."""
        if self.mode == "public":
            return stored_url, 0
        if self.mode == "presigned" and object_key:
            expires_at_ms = int(time.time() * 1000) + self.ttl_seconds * 1000
            return self.presigner.url(object_key, self.ttl_seconds), expires_at_ms
        return "", 0
