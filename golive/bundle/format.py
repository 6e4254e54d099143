"""The bundle's format: its file names, model variants, ONNX graph names and the manifest (stdlib only)."""

from __future__ import annotations

import json
import re
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
        """The manifest in `raw`, checked key by key (a hand edit is not covered by the files' hashes);
        ValueError naming the first key that is missing or of the wrong shape. Keys of a later version are
        ignored."""
        check_manifest(raw)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})


# what new_version_id writes fits it; a hand-written id must too (a comma or a non-Latin-1 character would break
# /v1/classify's X-Prediction-Ids header)
VERSION_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def check_manifest(raw: dict[str, Any]) -> None:
    """Refuse what serving would trip over later (a label list that is a string, a max_length that is text):
    each message names the key, what it must be and how to fix it. Plain checks, no pydantic: the Lambda runs
    this at cold start."""
    version = raw.get("format_version", FORMAT_VERSION)
    if _is_integer(version) and version > FORMAT_VERSION:
        raise ValueError(f"format_version {version} is newer than this golive reads ({FORMAT_VERSION}): upgrade golive")
    problem = _manifest_problem(raw)
    if problem:
        raise ValueError(f"{problem}; fix it, or write the bundle again with `golive train`")


def _manifest_problem(raw: dict[str, Any]) -> str | None:
    version = raw.get("format_version", FORMAT_VERSION)
    if not _is_integer(version) or version < 1:
        return f"format_version must be a positive integer, got {shown(version)}"
    for key in ("version_id", "created_at", "base_model", "data_sha256", "labels", "max_length"):
        if key not in raw:
            return f"{key} is missing"
    for key in ("version_id", "created_at", "base_model", "data_sha256"):
        if not isinstance(raw[key], str) or not raw[key]:
            return f"{key} must be a non-empty string, got {shown(raw[key])}"
    if not VERSION_ID.fullmatch(raw["version_id"]):
        return (
            "version_id must be 1 to 64 letters, digits, '.', '_' or '-' (it ends every prediction id, which "
            f"travels in HTTP headers), got {shown(raw['version_id'])}"
        )
    labels = raw["labels"]
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(label, str) and label for label in labels)
        or len(set(labels)) != len(labels)
    ):
        return f"labels must be a list of at least two distinct non-empty strings, got {shown(labels)}"
    if not _is_integer(raw["max_length"]) or raw["max_length"] < 1:
        return f"max_length must be a positive integer, got {shown(raw['max_length'])}"
    files = raw.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return f"files must be an object of file names to sha256 strings, got {shown(files)}"
    variant = raw.get("default_variant", DEFAULT_VARIANT)
    if not isinstance(variant, str) or variant not in MODEL_VARIANTS:
        return f"default_variant must be one of {', '.join(MODEL_VARIANTS)}, got {shown(variant)}"
    if not isinstance(raw.get("training", {}), dict):
        return f"training must be an object, got {shown(raw['training'])}"
    if raw.get("distillation") is not None and not isinstance(raw["distillation"], dict):
        return f"distillation must be an object or null, got {shown(raw['distillation'])}"
    return None


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shown(value: Any) -> str:
    """A JSON value as a message quotes it: short, and as it is written in the file."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def new_version_id(now: datetime | None = None) -> str:
    """Sortable and unique: UTC time to the second plus a short random suffix."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
