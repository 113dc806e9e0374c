"""The rendered PDFs in S3 (MinIO or any S3), through the minio SDK."""

from __future__ import annotations

import io
from urllib.parse import quote, urlsplit

import urllib3
from minio import Minio

from services.render_worker.settings import Storage


def object_key(render_id: str, filename: str) -> str:
    return f"renders/{render_id}/{filename}"


class PdfStore:
    def __init__(self, settings: Storage) -> None:
        url = urlsplit(settings.endpoint)
        self.settings = settings
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
        self.client.put_object(self.settings.bucket, key, io.BytesIO(pdf), len(pdf),
                               content_type="application/pdf")

    def download_url(self, key: str) -> str:
        base = self.settings.public_base_url
        return f"{base}/{quote(key)}" if base else ""

    def reachable(self) -> bool:
        return self.client.bucket_exists(self.settings.bucket)
