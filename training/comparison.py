"""Champion/challenger: the new model and the one serving now, scored on the same held-out rows.

The challenger is the new bundle's default variant (the int8 model the API serves); the champion (`--champion`: a
bundle folder, its model.tar.gz, or a SageMaker channel folder holding that) is scored the same way, with ONNX
Runtime only. The rows are the evaluation set (or the validation rows) plus the held-out feedback
(training/feedback.py). One metric line says it all for SageMaker and the pipeline's gate:

    challenger_accuracy=0.912 champion_accuracy=0.9 accuracy_gain=0.012 comparison_rows=1200

Without a champion, or with one whose labels are not the new model's, there is no champion_accuracy and no
accuracy_gain: the pipeline's gate reads that as "cannot compare".
"""

from __future__ import annotations

import logging
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from golive import bundle
from golive.classification_metrics import classification_report
from golive.contracts.training_metrics import format_metrics
from golive.errors import UserError
from golive.onnx_classifier import OnnxClassifier
from training.data import Datasets, LabelledData

logger = logging.getLogger(__name__)


def compare(challenger: OnnxClassifier, data: Datasets, champion_path: str | None) -> dict[str, Any]:
    """Score both models on the comparison rows, log the metric line, and return what metrics.json keeps."""
    rows = data.comparison or data.validation
    names = list(data.label_names)
    report: dict[str, Any] = {
        "rows": len(rows.texts),
        "sources": data.comparison_sources or {"validation": len(rows.texts)},
        "challenger": _scored(challenger, rows, names, bundle.DEFAULT_VARIANT),
        "champion": None,
        "accuracy_gain": None,
    }
    line: dict[str, float | int | str] = {"challenger_accuracy": report["challenger"]["accuracy"]}
    if champion_path:
        with champion_classifier(champion_path) as champion:
            if sorted(champion.labels) != sorted(names):
                report["not_compared"] = (
                    f"the champion's labels ({', '.join(champion.labels)}) are not the new model's "
                    f"({', '.join(names)}); the two cannot be compared"
                )
                logger.warning(f"warning: {report['not_compared']}")
            else:
                report["champion"] = _scored(champion, rows, names, champion.variant) | {"source": champion_path}
                report["accuracy_gain"] = report["challenger"]["accuracy"] - report["champion"]["accuracy"]
                line |= {"champion_accuracy": report["champion"]["accuracy"], "accuracy_gain": report["accuracy_gain"]}
    logger.info(format_metrics(line | {"comparison_rows": report["rows"]}))
    return report


def _scored(model: OnnxClassifier, rows: LabelledData, names: list[str], variant: str) -> dict[str, Any]:
    """Accuracy and macro-F1 of a model on the rows, its classes put in `names`' order (the same set of labels)."""
    probs = model.predict_proba(rows.texts)[:, [model.labels.index(name) for name in names]]
    report = classification_report(np.array(rows.labels), probs, names)
    version = model.manifest.version_id if model.manifest else None
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "variant": variant} | (
        {"version_id": version} if version else {}
    )


@contextmanager
def champion_classifier(path: str) -> Iterator[OnnxClassifier]:
    """The serving model's default variant, from a bundle folder, a model.tar.gz, or a folder holding one."""
    found = find_champion(path)
    if found.is_dir():
        yield OnnxClassifier.from_bundle(found)
        return
    with tempfile.TemporaryDirectory(prefix="golive-champion-") as folder:
        try:
            bundle.unpack_tarball(found, Path(folder))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserError(f"--champion {found} is not a readable {bundle.TARBALL}: {exc}") from None
        yield OnnxClassifier.from_bundle(Path(folder))


def find_champion(path: str) -> Path:
    """The bundle folder or tarball `--champion` names (checked before training: a mistake costs no run)."""
    given = Path(path)
    if path.startswith("s3://"):
        raise UserError(f"--champion takes a local path; download {path} first (aws s3 cp {path} .)")
    if given.is_dir() and (given / bundle.MANIFEST).is_file():
        return given
    if given.is_file() and given.name.endswith((".tar.gz", ".tgz")):
        return given
    found = sorted(given.glob("*.tar.gz")) if given.is_dir() else []  # a SageMaker channel: the file at its top
    if len(found) == 1:
        return found[0]
    if not given.exists():
        what = "does not exist"
    elif found:
        what = f"holds {len(found)} .tar.gz files, not one"
    else:
        what = f"is not a bundle folder (no {bundle.MANIFEST}) nor a {bundle.TARBALL}"
    raise UserError(f"--champion {given} {what}; pass the serving model's bundle folder or its {bundle.TARBALL}")
