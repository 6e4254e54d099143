"""Run a bundle's ONNX model with ONNX Runtime and `tokenizers` only (no torch, no transformers).

This is what production runs, so evaluation uses it too: the Lambda, the endpoint container and
`golive evaluate` all classify text through `OnnxClassifier`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from golive import bundle
from golive.classification_metrics import softmax


class OnnxClassifier:
    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        labels: Sequence[str],
        max_length: int,
        providers: Sequence[str] | None = None,
        intra_op_threads: int = 0,
    ):
        self.labels: list[str] = list(labels)
        self.manifest: bundle.Manifest | None = None  # set when loaded from a bundle
        self.variant = Path(model_path).name
        self.max_length = int(max_length)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        self.session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=list(providers or ["CPUExecutionProvider"])
        )
        self._input_names = {i.name for i in self.session.get_inputs()}

    @classmethod
    def from_bundle(
        cls, bundle_dir: Path, variant: str | None = None, verify: bool = True, **kwargs: Any
    ) -> OnnxClassifier:
        manifest = bundle.read_manifest(bundle_dir)
        model_file = bundle.model_path(bundle_dir, manifest, variant)
        if verify:
            bundle.verify_bundle(bundle_dir, only=[model_file.name, bundle.TOKENIZER])
        classifier = cls(
            model_file,
            Path(bundle_dir) / bundle.TOKENIZER,
            manifest.labels,
            manifest.max_length,
            **kwargs,
        )
        classifier.manifest = manifest
        classifier.variant = variant or manifest.default_variant
        return classifier

    @property
    def provider(self) -> str:
        providers: list[str] = self.session.get_providers()  # onnxruntime ships no types
        return providers[0]

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Tokenise and pad to the longest text in this batch (dynamic padding)."""
        return self.model_inputs(self.tokenizer.encode_batch(list(texts)))

    def model_inputs(self, encodings: Sequence[Encoding]) -> dict[str, np.ndarray]:
        """The graph's inputs for texts this classifier's tokenizer encoded, padded to the longest."""
        width = max((len(e.ids) for e in encodings), default=1)
        batch = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in bundle.ONNX_INPUTS}
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            batch["input_ids"][row, :n] = enc.ids
            batch["attention_mask"][row, :n] = enc.attention_mask
            batch["token_type_ids"][row, :n] = enc.type_ids
        return {k: v for k, v in batch.items() if k in self._input_names}

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        outputs: list[np.ndarray] = self.session.run([bundle.ONNX_OUTPUT], self.encode(texts))
        return outputs[0]

    def predict_logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Raw scores in input order; long inputs are batched by length to cut padding.

        Serving keeps logits, not probabilities: Hugging Face clients may ask for `sigmoid` or `none`
        (the raw scores), which probabilities cannot give back."""
        texts = list(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        scores = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            scores[idx] = self.logits([texts[i] for i in idx])
        return scores

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities in input order (softmax of `predict_logits`)."""
        return softmax(self.predict_logits(texts, batch_size)).astype(np.float32, copy=False)
