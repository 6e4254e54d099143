"""Where the keys that sign prediction ids come from.

- In AWS: a Secrets Manager secret (`GOLIVE_SIGNING_SECRET_ARN`). Its AWSCURRENT version signs; its
  AWSPREVIOUS version still verifies, so after a rotation the ids issued under the old key stay valid
  until the next rotation. Read once at cold start (AWSCURRENT only: one call), and again, both
  stages, the first time an id names a key this instance does not hold (see `KeyRing`).
- Locally (`golive serve`): a key file next to the feedback database, generated on first start with
  0600 permissions. One key per line, the first signs; to rotate, put a new first line and keep the old
  one below it for as long as its ids should stay valid.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from functions.api.prediction_ids import KeyRing
from functions.api.settings import Settings
from golive.errors import UserError

KEY_FILE = "signing-keys"


class SigningKeysUnavailable(RuntimeError):
    """The secret could not be read (network, permissions): a fault of ours, not the caller's."""


def key_file_path(settings: Settings) -> Path:
    return (
        Path(settings.signing_key_file) if settings.signing_key_file else Path(settings.feedback_db).parent / KEY_FILE
    )


def read_key_file(path: Path) -> list[bytes]:
    """The keys in `path`, created with one new key (readable by its owner only) when it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise UserError(
            f"{path} (the key that signs prediction ids) is readable by other users; run `chmod 600 {path}`"
        )
    keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise UserError(f"{path} holds no signing key; delete it and a new one is generated at the next start")
    return keys


def read_secret(arn: str, client, stages: tuple[str, ...]) -> list[bytes]:
    """The secret's versions in `stages` that exist, in that order (AWSPREVIOUS is missing until a rotation)."""
    from botocore.exceptions import BotoCoreError, ClientError

    keys = []
    for stage in stages:
        try:
            keys.append(client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"].encode())
        except ClientError as exc:
            if stage != "AWSCURRENT" and exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise SigningKeysUnavailable(f"cannot read {stage} of the signing-key secret {arn}: {exc}") from exc
        except BotoCoreError as exc:
            raise SigningKeysUnavailable(f"cannot read {stage} of the signing-key secret {arn}: {exc}") from exc
    return keys


class SecretReader:
    """The secret's keys, read through a Secrets Manager client that can be replaced (after a SnapStart restore)."""

    def __init__(self, arn: str, client=None):
        self.arn = arn
        self.client = client or self._new_client()

    @staticmethod
    def _new_client():
        import boto3

        return boto3.client("secretsmanager")

    def reconnect(self) -> None:
        self.client = self._new_client()

    def __call__(self, stages: tuple[str, ...] = ("AWSCURRENT", "AWSPREVIOUS")) -> list[bytes]:
        return read_secret(self.arn, self.client, stages)


def secret_key_ring(arn: str, client=None, reload_interval_s: float = 300.0) -> KeyRing:
    reader = SecretReader(arn, client)
    return KeyRing(reader(("AWSCURRENT",)), reload=reader, reload_interval_s=reload_interval_s)


def refresh_after_restore(ring: KeyRing) -> None:
    """A new connection and the current key as of now, as at a cold start (one call, AWSCURRENT): a snapshot may
    be restored long after it was taken, across rotations. A key-file ring (`golive serve`) has nothing to refresh."""
    if isinstance(ring.source, SecretReader):
        ring.source.reconnect()
        ring.refresh(ring.source(("AWSCURRENT",)))


def load_key_ring(settings: Settings) -> KeyRing:
    if settings.signing_secret_arn:
        return secret_key_ring(settings.signing_secret_arn)
    return KeyRing(read_key_file(key_file_path(settings)))
