"""A Hugging Face model folder read without torch (its config.json and which weights files it has), so
`golive distill` refuses a folder that cannot serve as its teacher or student base in a second, naming the
folder and the flag it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golive.errors import UserError

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


@dataclass(frozen=True)
class ModelFolder:
    path: str
    layers: int  # transformer layers
    config: dict[str, Any]

    @property
    def is_classifier(self) -> bool:
        """A fine-tuned text classifier (a ...ForSequenceClassification), not a base model without a head."""
        return any(name.endswith("ForSequenceClassification") for name in self.config.get("architectures") or [])

    @property
    def labels(self) -> list[str]:
        """The labels in class-index order, from id2label (transformers' LABEL_i placeholders when it has none)."""
        id2label = self.config.get("id2label") or {
            str(i): f"LABEL_{i}" for i in range(self.config.get("num_labels", 2))
        }
        return [id2label[key] for key in sorted(id2label, key=int)]


def is_model_folder(path: Path) -> bool:
    return (Path(path) / "config.json").is_file()


def read_model_folder(path: str, what: str, pass_this: str) -> ModelFolder:
    """The folder's config and layer count; a UserError naming `what` (e.g. `--teacher X`) and saying what to
    pass (`pass_this`) when it is not a model folder with weights."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"{what} is not a folder; {pass_this}")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserError(f"{what} is not a Hugging Face model folder (no config.json); {pass_this}")
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise UserError(f"{config_file} is not valid JSON ({exc}); {pass_this}") from None
    if not isinstance(config, dict):
        raise UserError(f"{config_file} is not a model's config (not a JSON object); {pass_this}")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise UserError(f"{what} has a config.json but no weights ({' or '.join(WEIGHT_FILES[::2])}); {pass_this}")
    layers = config.get("num_hidden_layers", config.get("n_layers"))
    if not isinstance(layers, int) or layers < 1:
        raise UserError(f"{config_file} says nothing of the model's layers (no num_hidden_layers); {pass_this}")
    return ModelFolder(path=str(path), layers=layers, config=config)
