"""`s3://bucket/key` URIs, split the one way every layer reads them."""

from __future__ import annotations

from golive.errors import UserError


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key` (the key may be empty: a whole bucket); no bucket is a UserError."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise UserError(f"{uri} is not a valid S3 URI; use s3://bucket/key")
    return bucket, key
