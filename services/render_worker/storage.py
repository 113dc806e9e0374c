"""The rendered PDFs in S3 (MinIO or any S3), through the minio SDK.

`put` tells a store that can never work (S3 answered 4xx: an invalid key, access denied) from one
that may work later (5xx, a timeout, no connection): the first fails the render at once, the
second gives the attempt back. A bucket that vanished (an S3 server restarted empty) is made
again and the put retried.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error

from craftkit import renders
from craftkit.config import Storage


class StoreError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# 4xx answers that still may pass.
TRANSIENT_CODES = {"RequestTimeout", "SlowDown", "RequestTimeTooSkewed", "NoSuchBucket"}


class PdfStore:
    def __init__(self, settings: Storage,
                 timed: Callable[[], AbstractContextManager] = contextlib.nullcontext) -> None:
        """`timed()`: a context around each PUT (the render worker times them)."""
        url = urlsplit(settings.endpoint)
        self.settings = settings
        self.timed = timed
        self.client = Minio(
            url.netloc, access_key=settings.access_key, secret_key=settings.secret_key,
            secure=url.scheme == "https", region=settings.region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=3, read=20), maxsize=32,
                retries=urllib3.Retry(total=2, backoff_factor=0.1,
                                      status_forcelist=(500, 502, 503, 504))))

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.settings.bucket):
            self.client.make_bucket(self.settings.bucket)

    def put(self, key: str, pdf: bytes) -> None:
        """Stores the PDF; StoreError (permanent or not) when S3 refuses or is unreachable."""
        try:
            try:
                self._put(key, pdf)
            except S3Error as exc:
                if exc.code != "NoSuchBucket":
                    raise
                self.ensure_bucket()
                self._put(key, pdf)
        except S3Error as exc:
            status = exc.response.status if exc.response is not None else 0
            raise StoreError(f"S3 answered {status} {exc.code}: {exc.message}",
                             permanent=400 <= status < 500 and exc.code not in TRANSIENT_CODES
                             ) from None
        except InvalidResponseError as exc:  # an answer that is not S3's XML (a proxy's page)
            status = exc._code  # noqa: SLF001 - the SDK keeps the HTTP status only here
            raise StoreError(f"S3 answered {status} without an S3 error",
                             permanent=400 <= (status or 0) < 500) from None
        except ValueError as exc:  # the SDK refused the request before sending it
            raise StoreError(f"S3 request refused: {exc}", permanent=True) from None
        except Exception as exc:  # noqa: BLE001 - urllib3 and socket errors: S3 unreachable
            raise StoreError(f"S3 unreachable: {type(exc).__name__}: {exc}",
                             permanent=False) from None

    def _put(self, key: str, pdf: bytes) -> None:
        with self.timed():
            self.client.put_object(self.settings.bucket, key, io.BytesIO(pdf), len(pdf),
                                   content_type="application/pdf")

    def remove(self, keys: list[str]) -> None:
        """Deletes the objects (one multi-object request per 1,000 keys). A key already gone
        counts as deleted, and so does a bucket that is gone; anything else S3 refuses raises
        StoreError."""
        for start in range(0, len(keys), 1000):
            chunk = [DeleteObject(key) for key in keys[start:start + 1000]]
            try:
                failed = [e for e in self.client.remove_objects(self.settings.bucket, chunk)
                          if e.code not in ("NoSuchKey", "NoSuchBucket")]
            except S3Error as exc:
                if exc.code == "NoSuchBucket":
                    continue
                raise StoreError(f"S3 answered {exc.code}: {exc.message}", permanent=False) from None
            if failed:
                raise StoreError(f"S3 could not delete {len(failed)} object(s), e.g. "
                                 f"{failed[0].name}: {failed[0].code} {failed[0].message}",
                                 permanent=False)

    def download_url(self, key: str) -> str:
        return renders.download_url(self.settings.public_base_url, key)

    def reachable(self) -> bool:
        return self.client.bucket_exists(self.settings.bucket)
