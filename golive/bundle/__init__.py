"""The model bundle: the only contract between training (which writes it) and serving (which reads it).

A bundle is a flat folder:

    model.onnx        fp32 ONNX model, graph-optimised, dynamic batch and sequence axes
    model.int8.onnx   the same model, int8 dynamically quantised (what the Lambda serves by default)
    tokenizer.json    a Hugging Face `tokenizers` file (truncation set to `max_length`, no padding)
    metrics.json      validation metrics, parity figures, the monitoring baseline
    MODEL_CARD.md     a short human-readable card
    manifest.json     written last: version id, time, base model, data hash, sha256 of every file

A folder without `manifest.json`, or whose files do not match the manifest's hashes, is not a bundle:
that is how an interrupted write is told apart from a finished one. The package is stdlib-only so the
Lambda can import it without pulling in training dependencies: `format` (names, manifest), `metrics` (the typed
metrics.json and its monitoring baseline), `store` (write, read, verify, tarball); its names are all here, as
`golive.bundle.X`.
"""

from golive.bundle.format import (
    DEFAULT_VARIANT,
    FORMAT_VERSION,
    MANIFEST,
    METRICS,
    MODEL_CARD,
    MODEL_FP32,
    MODEL_INT8,
    MODEL_VARIANTS,
    ONNX_INPUTS,
    ONNX_OUTPUT,
    TARBALL,
    TOKENIZER,
    Manifest,
    new_version_id,
)
from golive.bundle.metrics import Baseline, BundleMetrics, DataSummary, MetricsError, TrainingSummary, read_metrics
from golive.bundle.store import (
    model_path,
    pack_tarball,
    read_json,
    read_manifest,
    sha256_file,
    unpack_tarball,
    verify_bundle,
    write_bundle,
)

__all__ = [
    "Baseline",
    "BundleMetrics",
    "DataSummary",
    "MetricsError",
    "TrainingSummary",
    "read_metrics",
    "DEFAULT_VARIANT",
    "FORMAT_VERSION",
    "MANIFEST",
    "METRICS",
    "MODEL_CARD",
    "MODEL_FP32",
    "MODEL_INT8",
    "MODEL_VARIANTS",
    "ONNX_INPUTS",
    "ONNX_OUTPUT",
    "TARBALL",
    "TOKENIZER",
    "Manifest",
    "model_path",
    "new_version_id",
    "pack_tarball",
    "read_json",
    "read_manifest",
    "sha256_file",
    "unpack_tarball",
    "verify_bundle",
    "write_bundle",
]
