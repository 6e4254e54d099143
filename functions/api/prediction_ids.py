"""Prediction ids signed by the deployment, so feedback counts only for predictions it really made.

An id reads `<key id>.<label index>.<nonce>.<tag>.<model version>`, for example
`3f9c21ab.1.q2Vd0Xf1HkV7M4yQbq2E1A.XjJ8b8mH1i8Zl7Jc0kP3lg.20261123-101010-abc123`:

- key id: names the signing key (8 hex characters of a hash of it, never the key), so a rotated key
  still verifies the ids it signed while it is kept as a previous key;
- label index: the predicted class, so feedback is scored without storing every prediction;
- nonce: 16 random bytes (base64url): every id is unique, and it is the feedback store's key;
- tag: HMAC-SHA256 over all of the above and the model version, under that key, cut to its first
  128 bits (base64url). Truncating an HMAC is standard (RFC 2104 section 5, NIST SP 800-107): a forger
  who cannot compute the HMAC must guess, and each guess succeeds with probability 2^-128, while
  every guess costs an API call that API Gateway throttles. 128 bits keep ids short enough to paste;
- model version: the bundle that made the prediction (letters, digits, '.', '_', '-': the bundle's manifest
  is refused otherwise, golive/bundle/format.py), so ids can be listed comma-separated in a header.

Changing any part (another label, another model version, another key id) breaks the tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from golive.contracts.signing_keys import MIN_KEY_BYTES

DOMAIN = b"golive-prediction-id/1"  # an HMAC under this key never means anything else
TAG_BYTES = 16
_ID = re.compile(r"([0-9a-f]{8})\.([0-9]{1,4})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})\.(.+)", re.DOTALL)
ID_PATTERN = r"^[0-9a-f]{8}\.[0-9]{1,4}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\..+$"  # for the OpenAPI document


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"golive-key-id\0" + key).hexdigest()[:8]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class IssuedPrediction:
    label_index: int
    model_version: str


class KeyRing:
    """The key that signs new ids and the previous keys that still verify old ones.

    `reload` (Secrets Manager in the cloud) is called when an id names a key this ring does not hold,
    e.g. one a newer instance signed after a rotation: always the first time (the ring may have been
    built from the current key alone), then at most once per `reload_interval_s`, so forged key ids
    cannot turn into a stream of Secrets Manager calls.
    """

    def __init__(
        self,
        keys: Sequence[bytes],
        reload: Callable[[], Sequence[bytes]] | None = None,
        reload_interval_s: float = 300.0,
    ):
        self._lock = threading.Lock()
        self._reload = reload
        self.source = reload  # where reloads come from (signing_keys.SecretReader in AWS)
        self._interval = reload_interval_s
        self._reloaded_at: float | None = None
        self._install(keys)

    def _install(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("no signing key")
        for key in keys:
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"a signing key is {len(key)} bytes; use at least {MIN_KEY_BYTES}")
        self.current = keys[0]
        self.current_id = key_id(keys[0])
        self._by_id = {key_id(key): key for key in keys}

    def refresh(self, keys: Sequence[bytes]) -> None:
        """Install `keys` as if this ring were new (after a SnapStart restore: the secret may have rotated since
        the snapshot was taken, and the reload timer's clock is not the restored environment's)."""
        with self._lock:
            self._install(keys)
            self._reloaded_at = None

    def find(self, kid: str) -> bytes | None:
        key = self._by_id.get(kid)
        if key is not None or self._reload is None:
            return key
        with self._lock:
            due = self._reloaded_at is None or time.monotonic() - self._reloaded_at >= self._interval
            if kid not in self._by_id and due:
                self._reloaded_at = time.monotonic()
                self._install(self._reload())
        return self._by_id.get(kid)


class PredictionIds:
    """Issues ids for one model version and verifies ids sent back with feedback."""

    def __init__(self, keys: KeyRing, model_version: str):
        self.keys = keys
        self.model_version = model_version

    @staticmethod
    def _tag(key: bytes, kid: str, label: str, nonce: str, model_version: str) -> str:
        message = b"\0".join([DOMAIN, kid.encode(), label.encode(), nonce.encode(), model_version.encode()])
        return _b64(hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES])

    def issue(self, label_index: int) -> str:
        kid, nonce, label = self.keys.current_id, _b64(secrets.token_bytes(16)), str(label_index)
        tag = self._tag(self.keys.current, kid, label, nonce, self.model_version)
        return f"{kid}.{label}.{nonce}.{tag}.{self.model_version}"

    def longest(self, label_count: int) -> int:
        """Bytes of the longest id this model can be given, worked out without signing one (routes ask per
        request): key id, nonce and tag have fixed lengths, the last label's index has the most digits (for
        bounding a header that carries ids)."""
        fixed = len(key_id(b"")) + 2 * len(_b64(bytes(TAG_BYTES))) + len("....")  # nonce: 16 bytes, as the tag
        return fixed + len(str(label_count - 1)) + len(self.model_version.encode("utf-8"))

    def verify(self, prediction_id: str) -> IssuedPrediction | None:
        """What the id says, if a key of this deployment signed it; None for anything else."""
        match = _ID.fullmatch(prediction_id)
        if not match:
            return None
        kid, label, nonce, tag, model_version = match.groups()
        try:
            model_version.encode("utf-8")
        except UnicodeEncodeError:
            return None
        key = self.keys.find(kid)
        if key is None or not hmac.compare_digest(tag, self._tag(key, kid, label, nonce, model_version)):
            return None
        return IssuedPrediction(int(label), model_version)
