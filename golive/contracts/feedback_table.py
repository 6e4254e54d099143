"""The feedback table's layout, which the API writes (functions/api/feedback_store.py) and infra declares and
grants (infra/constructs/feedback_table.py, api_function.py): each feedback item is keyed by the bare prediction
id and never expires; each captured text by `text#<prediction id>`, deleted by DynamoDB's TTL after `expires_at`."""

from __future__ import annotations

TEXT_KEY_PREFIX = "text#"  # a captured text's key, beside the feedback item keyed by the bare id
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; the table's TimeToLiveSpecification names it
