"""A model bundle written by hand, for the unit lane: no torch, no transformers, no training run.

The model is a real ONNX graph built with `onnx.helper` that golive's ONNX inference path runs unchanged:
the three int64 inputs the exporter writes (`bundle.ONNX_INPUTS`), float `logits` out, dynamic batch and
sequence axes. It is a bag of words: each token's embedding (plus its token type's) is averaged over the
attention mask and projected to one score per label. Words of a small sentiment vocabulary carry a fixed
direction, so the classifier gives answers a test can predict ("a wonderful film" is positive) and padding
must not change them. The tokenizer is a real `tokenizers` WordPiece tokenizer with BERT's normaliser,
pre-tokeniser and `[CLS] ... [SEP]` template, as the exported MiniLM one has. The int8 variant is the
fp32 graph quantised by ONNX Runtime's own dynamic quantiser, as training does. Manifest and metrics are
written by the core's `bundle.write_bundle`; the metrics come from scoring the model on a few labelled
texts with the core's `classification_report`, in the shape training writes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from golive import bundle
from golive.classification_metrics import classification_report

LABELS = ["negative", "positive"]
MAX_LENGTH = 32
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = ["good", "great", "wonderful", "lovely", "moving", "excellent", "loved", "fine"]
NEGATIVE = ["bad", "awful", "terrible", "rude", "cold", "boring", "never", "hated"]
NEUTRAL = [
    "a",
    "the",
    "film",
    "food",
    "and",
    "staff",
    "it",
    "was",
    "again",
    "text",
    "number",
    "one",
    "two",
    "three",
    "x",
    "y",
    "ok",
    "hello",
    "this",
    "is",
    "not",
    "service",
    "plot",
    ",",
    ".",
    "!",
    "##s",
    "##ly",
]
VOCAB = SPECIAL + POSITIVE + NEGATIVE + NEUTRAL
# a few labelled texts: the metrics (and monitoring baseline) are this model's real scores on them
VALIDATION = [
    ("a wonderful, moving film", "positive"),
    ("great food and lovely staff", "positive"),
    ("it was fine", "positive"),
    ("cold food and rude staff", "negative"),
    ("never again", "negative"),
    ("an awful, boring plot", "negative"),
    ("hello", "positive"),
]


def build_tokenizer():
    """A BERT-style WordPiece tokenizer over VOCAB (lower-cased, accents stripped, `[CLS] x [SEP]`)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(VOCAB)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.enable_truncation(MAX_LENGTH)
    return tokenizer


def embedding_table() -> np.ndarray:
    """Two features per token: how positive and how negative it is (0 for everything else)."""
    table = np.zeros((len(VOCAB), 2), dtype=np.float32)
    for i, token in enumerate(VOCAB):
        table[i] = [float(token in POSITIVE), float(token in NEGATIVE)]
    return table


def build_onnx_model():
    """logits = mean over unmasked tokens of (word + token-type embedding) @ W + b."""
    from onnx import TensorProto, helper, numpy_helper

    words = embedding_table()
    types = np.zeros((2, 2), dtype=np.float32)
    weight = np.array([[-1.0, 3.0], [3.0, -1.0]], dtype=np.float32)  # features -> (negative, positive)
    bias = np.array([0.0, 0.1], dtype=np.float32)  # a text with no known word leans positive, slightly
    axis1, epsilon = np.array([1], dtype=np.int64), np.array(1e-6, dtype=np.float32)
    initializers = [
        numpy_helper.from_array(array, name)
        for array, name in (
            (words, "word_embeddings"),
            (types, "type_embeddings"),
            (weight, "classifier_weight"),
            (bias, "classifier_bias"),
            (axis1, "axis_1"),
            (epsilon, "epsilon"),
        )
    ]
    node = helper.make_node
    nodes = [
        node("Gather", ["word_embeddings", "input_ids"], ["word_vectors"]),  # [B, S, 2]
        node("Gather", ["type_embeddings", "token_type_ids"], ["type_vectors"]),
        node("Add", ["word_vectors", "type_vectors"], ["token_vectors"]),
        node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),  # [B, S]
        node("Unsqueeze", ["mask", "axis_1"], ["mask_column"]),  # [B, 1, S]
        node("MatMul", ["mask_column", "token_vectors"], ["summed_3d"]),  # [B, 1, 2]
        node("Squeeze", ["summed_3d", "axis_1"], ["summed"]),  # [B, 2]
        node("ReduceSum", ["mask", "axis_1"], ["count"], keepdims=1),  # [B, 1]
        node("Max", ["count", "epsilon"], ["safe_count"]),
        node("Div", ["summed", "safe_count"], ["mean"]),
        node("MatMul", ["mean", "classifier_weight"], ["projected"]),
        node("Add", ["projected", "classifier_bias"], [bundle.ONNX_OUTPUT]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in bundle.ONNX_INPUTS
    ]
    output = helper.make_tensor_value_info(bundle.ONNX_OUTPUT, TensorProto.FLOAT, ["batch", len(LABELS)])
    graph = helper.make_graph(nodes, "handmade-bag-of-words", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="golive-tests")
    model.ir_version = 8  # what ONNX Runtime 1.x reads
    import onnx

    onnx.checker.check_model(model, full_check=True)
    return model


def write_handmade_bundle(out: Path, version_id: str | None = None) -> bundle.Manifest:
    """Write the bundle into `out` (a folder) with the core's writer; returns its manifest."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from golive.onnx_classifier import OnnxClassifier

    with tempfile.TemporaryDirectory(prefix="golive-handmade-") as tmp:
        paths = {name: Path(tmp) / name for name in (bundle.MODEL_FP32, bundle.MODEL_INT8, bundle.TOKENIZER)}
        onnx.save(build_onnx_model(), str(paths[bundle.MODEL_FP32]))
        quantize_dynamic(
            str(paths[bundle.MODEL_FP32]),
            str(paths[bundle.MODEL_INT8]),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
        )
        build_tokenizer().save(str(paths[bundle.TOKENIZER]))

        texts, truth = [t for t, _ in VALIDATION], np.array([LABELS.index(label) for _, label in VALIDATION])
        validation = {
            variant: classification_report(
                truth,
                OnnxClassifier(paths[name], paths[bundle.TOKENIZER], LABELS, MAX_LENGTH).predict_proba(texts),
                LABELS,
            )
            for variant, name in bundle.MODEL_VARIANTS.items()
        }
        default = validation[bundle.DEFAULT_VARIANT]
        metrics = bundle.BundleMetrics(
            validation=validation,
            baseline=bundle.Baseline(
                variant=bundle.DEFAULT_VARIANT,
                label_distribution=default["label_distribution"],
                label_share=default["predicted_label_distribution"],
                mean_confidence=default["mean_confidence"],
                mean_input_chars=float(np.mean([len(t) for t in texts])),
            ),
            data=bundle.DataSummary(
                train_rows=0,
                validation_rows=len(texts),
                validation_source="tests/unit/handmade_bundle.py",
                train_label_counts={},
                validation_label_counts={label: truth.tolist().count(LABELS.index(label)) for label in LABELS},
                skipped_rows={},
            ),
        )
        manifest = bundle.Manifest(
            version_id=version_id or bundle.new_version_id(),
            created_at="2026-01-01T00:00:00+00:00",
            base_model="handmade bag of words (tests/unit/handmade_bundle.py)",
            data_sha256="0" * 64,
            labels=list(LABELS),
            max_length=MAX_LENGTH,
        )
        files: dict[str, Path | str | bytes] = dict(paths)
        files[bundle.METRICS] = metrics.to_json()
        files[bundle.MODEL_CARD] = "# handmade bundle\n\nA bag-of-words model written by hand for the unit tests.\n"
        return bundle.write_bundle(out, files, manifest)
