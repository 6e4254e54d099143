"""Load the bundle on the best execution provider ONNX Runtime has here, and warm it up."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnxruntime as ort

from functions.endpoint.settings import EndpointSettings
from golive import bundle
from golive.onnx_classifier import OnnxClassifier

log = logging.getLogger("golive.endpoint")

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
WARMUP_TEXTS = ["warm up", "a somewhat longer sentence to warm up the kernels for wider batches " * 4]


def choose_providers(setting: str, available: list[str] | None = None) -> list[str]:
    """Providers in preference order; CPU is always last, so ONNX Runtime can fall back to it."""
    available = list(available if available is not None else ort.get_available_providers())
    wanted = {
        "auto": ["CUDAExecutionProvider"],
        "cuda": ["CUDAExecutionProvider"],
        "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
        "cpu": [],
    }[setting]
    chosen = [p for p in wanted if p in available]
    if wanted and not chosen:
        log.warning("no GPU execution provider in this ONNX Runtime (it has %s); running on CPU", ", ".join(available))
    return chosen + ["CPUExecutionProvider"]


def choose_variant(setting: str, on_gpu: bool, manifest: bundle.Manifest) -> str:
    if setting != "auto":
        return setting
    # int8 (dynamic quantisation) runs its MatMulInteger nodes on the CPU even under CUDA
    return "fp16" if on_gpu else manifest.default_variant


def convert_to_fp16(fp32_model: Path, dest: Path) -> Path:
    """Half-precision weights and compute, float32 inputs and outputs: same interface, about half the memory
    traffic on a GPU. Needs the `onnx` package (in the container image, not in the Lambda)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(fp32_model)), keep_io_types=True)
    onnx.save(model, str(dest))
    return dest


def load_classifier(settings: EndpointSettings) -> OnnxClassifier:
    model_dir = Path(settings.model_dir)
    manifest = bundle.read_manifest(model_dir)
    providers = choose_providers(settings.provider)
    variant = choose_variant(settings.model_variant, providers[0] in GPU_PROVIDERS, manifest)
    if variant == "fp16":
        fp32 = bundle.model_path(model_dir, manifest, "fp32")
        bundle.verify_bundle(model_dir, only=[fp32.name, bundle.TOKENIZER])
        fp16 = convert_to_fp16(fp32, Path(tempfile.mkdtemp(prefix="golive-")) / "model.fp16.onnx")
        classifier = OnnxClassifier(
            fp16, model_dir / bundle.TOKENIZER, manifest.labels, manifest.max_length, providers=providers
        )
        classifier.manifest, classifier.variant = manifest, "fp16"
    else:
        classifier = OnnxClassifier.from_bundle(model_dir, variant, providers=providers)
    if classifier.provider != providers[0]:
        log.warning("ONNX Runtime could not start %s; running on %s", providers[0], classifier.provider)
    log.info("model %s (%s) loaded on %s", manifest.version_id, classifier.variant, classifier.provider)
    return classifier


def warm_up(classifier: OnnxClassifier, batches: int, max_batch_size: int) -> None:
    """The first calls allocate memory and pick kernels; pay for that before /ping says ready."""
    for i in range(batches):
        size = max(1, min(max_batch_size, 2 ** (2 * i)))
        classifier.predict_proba((WARMUP_TEXTS * size)[:size], batch_size=max_batch_size)
