"""Keep each prediction's text, redacted, so feedback can become training data (off unless
GOLIVE_CAPTURE_TEXTS is on; kept GOLIVE_CAPTURE_TTL_DAYS days).

Only the redacted text reaches the store, and neither the text nor its redacted form is logged: the log line
says how many texts were kept and how many pieces of each kind of personal data were replaced.
"""

from __future__ import annotations

import time

from functions.api.dependencies import Services
from functions.api.feedback_store import CapturedText


def capture_texts(services: Services, prediction_ids: list[str], texts: list[str]) -> None:
    """Store the redacted texts of one request's predictions; a store failure is logged, never the answer's."""
    from golive.redaction import redact  # only where capture is on: its patterns stay out of every cold start

    settings = services.settings
    expires_at = int(time.time()) + settings.capture_ttl_days * 86_400
    version = services.backend.manifest.version_id
    redacted = [redact(text) for text in texts]
    replaced: dict[str, int] = {}
    for result in redacted:
        for kind, count in result.counts.items():
            replaced[kind] = replaced.get(kind, 0) + count
    captured = [CapturedText(pid, result.text, version, expires_at) for pid, result in zip(prediction_ids, redacted)]
    try:
        not_stored = services.feedback.put_texts(captured)
    # any store error (botocore's, sqlite3's): the prediction has been made, so answer it and log what was not kept
    except Exception as exc:  # noqa: BLE001
        services.logger.warning("texts not captured", extra={"texts": len(captured), "error": type(exc).__name__})
        return
    services.logger.info(
        "texts captured", extra={"texts": len(captured) - not_stored, "not_stored": not_stored, "redacted": replaced}
    )
