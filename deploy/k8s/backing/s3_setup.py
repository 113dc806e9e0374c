"""Prepares the S3 bucket Craftkit's render workers write to (the Job s3-setup in minio.yaml).

Every step may run again: the bucket is made if missing, the policy, the lifecycle and the
user's policy are set to what is written here.

- Public read on renders/* only: downloadUrl is S3_PUBLIC_BASE_URL + the object's key, and the
  workers store every PDF at renders/<render id>/<filename> (services/render_worker/storage.py).
  Nothing else in the bucket can be listed or read anonymously.
- Lifecycle: no expiry of renders/*, because downloadUrl is documented as permanent; only
  multipart uploads abandoned by a killed worker are cleaned up after a day.
- The services' user (S3_ACCESS_KEY) may read, write and list this bucket, and make it again
  if it vanished; nothing else.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

PUBLIC_PREFIX = "renders/"


def public_read_policy(bucket: str) -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Sid": "PublicReadRenders", "Effect": "Allow",
                           "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                           "Resource": [f"arn:aws:s3:::{bucket}/{PUBLIC_PREFIX}*"]}]}


def services_policy(bucket: str) -> dict:
    return {"Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow",
                 "Action": ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket"],
                 "Resource": [f"arn:aws:s3:::{bucket}"]},
                {"Effect": "Allow",
                 "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                 "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}


def lifecycle():
    from minio.commonconfig import ENABLED, Filter
    from minio.lifecycleconfig import AbortIncompleteMultipartUpload, LifecycleConfig, Rule

    return LifecycleConfig([Rule(ENABLED, rule_filter=Filter(prefix=""),
                                 rule_id="abort-abandoned-uploads",
                                 abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(1))])


def main() -> None:
    import json

    from minio import Minio, MinioAdmin
    from minio.credentials import StaticProvider
    from minio.error import MinioAdminException

    url = urlsplit(os.environ["S3_ENDPOINT"])
    bucket = os.environ["S3_BUCKET"]
    root = (os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"])
    client = Minio(url.netloc, access_key=root[0], secret_key=root[1],
                   secure=url.scheme == "https")
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    client.set_bucket_policy(bucket, json.dumps(public_read_policy(bucket)))
    client.set_bucket_lifecycle(bucket, lifecycle())

    admin = MinioAdmin(endpoint=url.netloc, credentials=StaticProvider(*root),
                       secure=url.scheme == "https")
    user = os.environ["S3_ACCESS_KEY"]
    admin.user_add(user, os.environ["S3_SECRET_KEY"])
    admin.policy_add("craftkit-services", policy=services_policy(bucket))
    try:
        admin.attach_policy(["craftkit-services"], user=user)
    except MinioAdminException as exc:  # attached by an earlier run
        if "already" not in str(exc).lower():
            raise
    print(f"bucket {bucket}: public read on {PUBLIC_PREFIX}*, lifecycle set, user {user} ready")


if __name__ == "__main__":
    main()
