"""Export a trained torch classifier to the bundle: ONNX (fp32 optimised + int8), parity-checked.

The parity check compares torch and ONNX logits on held-out rows encoded by the bundle's own
tokenizer (the serving path), and export stops with ParityError before any bundle is written when
the stated tolerance is broken.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tokenizers import Tokenizer

from golive import bundle
from golive.classification_metrics import classification_report
from golive.contracts.training_metrics import format_metrics
from golive.onnx_classifier import OnnxClassifier
from golive.progress import Progress
from training.args import TrainArguments, describe_base_model
from training.comparison import compare
from training.data import Datasets, label_counts
from training.model_card import model_card

ONNX_OPSET = 17

logger = logging.getLogger(__name__)


class ParityError(RuntimeError):
    """The exported model does not reproduce the torch model within tolerance."""


class Provenance(Protocol):
    """Where a bundle's model came from, when it is more than a fine-tuned base model (training.distill's
    distilled student): recorded in the manifest, compared in metrics.json and the model card."""

    @property
    def manifest_entry(self) -> dict[str, Any]: ...

    def compare(self, served: OnnxClassifier) -> dict[str, Any]: ...

    def card(self, comparison: dict[str, Any]) -> str: ...


def export_onnx(model: torch.nn.Module, input_names: list[str], path: Path) -> None:
    dummy = {name: torch.ones((2, 8), dtype=torch.long) for name in input_names}
    dummy["attention_mask"][1, 5:] = 0
    if "token_type_ids" in dummy:
        dummy["token_type_ids"].zero_()
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes[bundle.ONNX_OUTPUT] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python code are expected here
        torch.onnx.export(
            model,
            tuple(dummy[name] for name in input_names),
            str(path),
            input_names=input_names,
            output_names=[bundle.ONNX_OUTPUT],
            dynamic_axes=axes,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def optimize_onnx(raw: Path, out: Path, config) -> str:
    """Fuse attention/layer-norm/GELU with ONNX Runtime's transformer optimiser (portable across CPU and GPU)."""
    from onnxruntime.transformers.optimizer import optimize_model

    if config.model_type not in ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "camembert", "deberta-v2"):
        raw.replace(out)
        return f"no fusion for model type {config.model_type}; basic ONNX Runtime optimisation at load time"
    optimized = optimize_model(
        str(raw), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size, opt_level=0
    )
    optimized.save_model_to_file(str(out))
    fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    return f"fused operators: {fused}"


def quantize_int8(fp32: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # fused ops (Attention, SkipLayerNormalization) defeat ONNX shape inference; their tensors are float
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" advice is for static quantisation
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def save_tokenizer(tokenizer, path: Path) -> None:
    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast.no_padding()
    fast.no_truncation()  # serving sets truncation from the manifest's max_length
    fast.save(str(path))


def check_parity(
    model: torch.nn.Module,
    classifiers: dict[str, OnnxClassifier],
    texts: list[str],
    tolerance: float,
    int8_min_agreement: float,
) -> dict[str, Any]:
    """Compare torch logits with each ONNX variant's on the same encoded inputs."""
    reference = classifiers["fp32"]
    torch_logits: list[np.ndarray] = []
    onnx_logits: dict[str, list[np.ndarray]] = {name: [] for name in classifiers}
    with torch.no_grad():
        for start in range(0, len(texts), 32):
            chunk = texts[start : start + 32]
            inputs = reference.encode(chunk)
            torch_logits.append(model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy())
            for name, clf in classifiers.items():
                onnx_logits[name].append(clf.session.run([bundle.ONNX_OUTPUT], inputs)[0])
    expected = np.concatenate(torch_logits)
    report: dict[str, Any] = {"rows": len(texts), "fp32_tolerance": tolerance, "int8_min_agreement": int8_min_agreement}
    for name, parts in onnx_logits.items():
        got = np.concatenate(parts)
        report[name] = {
            "max_logit_diff": float(np.abs(got - expected).max()),
            "label_agreement": float((got.argmax(1) == expected.argmax(1)).mean()),
        }
    fp32, int8 = report["fp32"], report["int8"]
    logger.info(
        format_metrics(
            {
                "parity_max_logit_diff": fp32["max_logit_diff"],
                "parity_label_agreement": fp32["label_agreement"],
                "parity_int8_label_agreement": int8["label_agreement"],
            }
        )
    )
    if fp32["max_logit_diff"] > tolerance:
        raise ParityError(
            f"ONNX fp32 logits differ from torch by up to {fp32['max_logit_diff']:.2e} on {len(texts)} held-out rows "
            f"(tolerance {tolerance:.0e}); the export is wrong, no bundle was written"
        )
    if int8["label_agreement"] < int8_min_agreement:
        raise ParityError(
            f"int8 model agrees with torch on only {int8['label_agreement']:.1%} of {len(texts)} held-out rows "
            f"(minimum {int8_min_agreement:.0%}); no bundle was written. Lower --int8-min-agreement only if you accept that"
        )
    return report


def write_onnx_files(
    model: torch.nn.Module, tokenizer, folder: Path, progress: Progress
) -> tuple[dict[str, Path], str]:
    """The fp32 (optimised) and int8 models and the tokenizer in `folder`: their paths by bundle file name, and
    what the optimiser did."""
    input_names = [n for n in bundle.ONNX_INPUTS if n in tokenizer.model_input_names]
    paths = {name: folder / name for name in (bundle.MODEL_FP32, bundle.MODEL_INT8, bundle.TOKENIZER)}
    progress(f"exporting ONNX (fp32, opset {ONNX_OPSET}) ...")
    export_onnx(model, input_names, folder / "raw.onnx")
    progress("fusing attention, LayerNorm and GELU with ONNX Runtime's transformer optimiser ...")
    optimisation = optimize_onnx(folder / "raw.onnx", paths[bundle.MODEL_FP32], model.config)
    progress("quantising to int8 (dynamic, per channel) ...")
    quantize_int8(paths[bundle.MODEL_FP32], paths[bundle.MODEL_INT8])
    save_tokenizer(tokenizer, paths[bundle.TOKENIZER])
    return paths, optimisation


def score_variants(classifiers: dict[str, OnnxClassifier], data: Datasets) -> dict[str, dict[str, Any]]:
    """Each ONNX variant's report on the validation rows; their accuracies logged as metric lines."""
    y_true = np.array(data.validation.labels)
    validation = {
        variant: classification_report(y_true, clf.predict_proba(data.validation.texts), data.label_names)
        for variant, clf in classifiers.items()
    }
    logger.info(
        format_metrics(
            {"onnx_accuracy": validation["fp32"]["accuracy"], "onnx_int8_accuracy": validation["int8"]["accuracy"]}
        )
    )
    return validation


def new_manifest(data: Datasets, args: TrainArguments, base_model: str) -> bundle.Manifest:
    return bundle.Manifest(
        version_id=bundle.new_version_id(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        base_model=describe_base_model(base_model),
        data_sha256=data.sha256,
        labels=list(data.label_names),
        max_length=args.max_length,
        training={
            k: getattr(args, k)
            for k in ("epochs", "batch_size", "lr", "seed", "max_length", "max_train_samples", "feedback_holdout")
        }
        | {k: getattr(args, k) for k in ("data", "feedback_data", "eval_data", "champion")}
        | {"base_model_path": base_model},
    )


def monitoring_baseline(data: Datasets, default: dict[str, Any]) -> bundle.Baseline:
    """What monitoring compares live traffic with: the default variant's figures on the validation set."""
    return bundle.Baseline(
        variant=bundle.DEFAULT_VARIANT,
        label_distribution=default["label_distribution"],
        label_share=default["predicted_label_distribution"],
        mean_confidence=default["mean_confidence"],
        mean_input_chars=float(np.mean([len(t) for t in data.validation.texts])),
    )


def data_summary(data: Datasets) -> bundle.DataSummary:
    return bundle.DataSummary(
        train_rows=len(data.train.texts),
        validation_rows=len(data.validation.texts),
        validation_source=data.validation_source,
        train_label_counts=label_counts(data.train, data.label_names),
        validation_label_counts=label_counts(data.validation, data.label_names),
        skipped_rows=data.skipped.as_dict(),
        feedback=data.feedback or None,
        row_checks=dict(data.checks),
    )


def export_bundle(
    model: torch.nn.Module,
    tokenizer,
    data: Datasets,
    args: TrainArguments,
    base_model: str,
    training_summary: dict[str, Any],
    distillation: Provenance | None = None,
) -> bundle.Manifest:
    progress = Progress(sys.stdout)  # training logs go to stdout; so does its export
    with tempfile.TemporaryDirectory(prefix="golive-export-") as tmp:
        paths, optimisation = write_onnx_files(model, tokenizer, Path(tmp), progress)
        classifiers = {
            variant: OnnxClassifier(paths[file], paths[bundle.TOKENIZER], data.label_names, args.max_length)
            for variant, file in bundle.MODEL_VARIANTS.items()
        }
        parity_texts = data.validation.texts[: args.parity_rows]
        progress(f"checking parity of torch, fp32 and int8 on {len(parity_texts)} held-out rows ...")
        parity = check_parity(model, classifiers, parity_texts, args.parity_tolerance, args.int8_min_agreement)

        progress(f"scoring fp32 and int8 on {len(data.validation.texts)} validation rows ...")
        validation = score_variants(classifiers, data)
        progress(f"comparing the new model with {args.champion or 'no champion'} on the same held-out rows ...")
        comparison = compare(classifiers[bundle.DEFAULT_VARIANT], data, args.champion)
        metrics = bundle.BundleMetrics(
            validation=validation,
            torch_validation=training_summary.get("torch_validation", {}),
            parity=parity,
            baseline=monitoring_baseline(data, validation[bundle.DEFAULT_VARIANT]),
            data=data_summary(data),
            training=bundle.TrainingSummary(
                **{
                    k: training_summary[k]
                    for k in ("global_step", "train_examples_per_second", "train_seconds", "train_rows")
                }
            ),
            onnx={"opset": ONNX_OPSET, "optimisation": optimisation},
            comparison=comparison,
        )
        if distillation:
            metrics = metrics._replace(distillation=distillation.compare(classifiers[bundle.DEFAULT_VARIANT]))
        manifest = new_manifest(data, args, base_model)
        manifest.distillation = distillation.manifest_entry if distillation else None
        files: dict[str, Path | str | bytes] = {name: path for name, path in paths.items()}
        files[bundle.METRICS] = metrics.to_json()
        files[bundle.MODEL_CARD] = model_card(manifest, metrics) + (
            distillation.card(dict(metrics.distillation)) if distillation else ""
        )
        bundle.write_bundle(Path(args.out), files, manifest)
    progress(f"bundle written to {args.out} (version {manifest.version_id})")
    return manifest
