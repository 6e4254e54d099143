"""The bundle's format: its file names, model variants, ONNX graph names and the manifest (stdlib only)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = 1

MANIFEST = "manifest.json"
MODEL_FP32 = "model.onnx"
MODEL_INT8 = "model.int8.onnx"
TOKENIZER = "tokenizer.json"
METRICS = "metrics.json"
MODEL_CARD = "MODEL_CARD.md"
TARBALL = "model.tar.gz"

MODEL_VARIANTS = {"fp32": MODEL_FP32, "int8": MODEL_INT8}
DEFAULT_VARIANT = "int8"
# ONNX graph inputs, in the order the exporter writes them.
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OUTPUT = "logits"


@dataclass
class Manifest:
    """What serving needs to know about a bundle besides the files themselves."""

    version_id: str
    created_at: str
    base_model: str
    data_sha256: str
    labels: list[str]
    max_length: int
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    default_variant: str = DEFAULT_VARIANT
    training: dict[str, Any] = field(default_factory=dict)
    distillation: dict[str, Any] | None = None  # a distilled student's teacher, layers kept and settings
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


def new_version_id(now: datetime | None = None) -> str:
    """Sortable and unique: UTC time to the second plus a short random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
