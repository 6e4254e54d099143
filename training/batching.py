"""Texts to token ids, and batches for training: length-grouped, dynamically padded, sharded across DDP ranks.

Grouping texts of similar length and padding each batch only to its longest text is where most of
the CPU/GPU time goes on short-text data; `pad_to` exists only to measure that (see benchmarks/).
"""

from __future__ import annotations

import random

import torch

MEGABATCH_FACTOR = 50  # how many batches' worth of examples are sorted together (as in HF's LengthGroupedSampler)
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

Encoded = dict[str, list[list[int]]]  # token ids per model input, one unpadded list per text


def encode(tokenizer, texts: list[str], max_length: int) -> Encoded:
    """Token ids of each text, truncated to `max_length` and not padded (collate pads each batch)."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length)
    return {k: encoded[k] for k in MODEL_INPUTS if k in encoded}


def make_batches(
    lengths: list[int],
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
    world_size: int = 1,
) -> list[list[int]]:
    """The epoch's batches of example indices, the same on every rank (seeded by seed and epoch).

    With length grouping, shuffled examples are cut into megabatches, each sorted by length and cut
    into batches, and the batch order is shuffled again. The batch count is padded to a multiple of
    `world_size` by repeating the first batches, so every rank runs the same number of steps and
    no example is left out.
    """
    rng = random.Random(seed * 100_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        batches: list[list[int]] = []
        span = batch_size * MEGABATCH_FACTOR
        for start in range(0, len(order), span):
            chunk = sorted(order[start : start + span], key=lambda i: -lengths[i])
            batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
        rng.shuffle(batches)
        # the longest batch first, so an out-of-memory shows up at step one, not hours in
        longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
        batches[0], batches[longest] = batches[longest], batches[0]
    else:
        batches = [order[j : j + batch_size] for j in range(0, len(order), batch_size)]
    remainder = len(batches) % world_size
    if remainder:
        batches.extend(batches[: world_size - remainder])
    return batches


def shard(batches: list[list[int]], rank: int, world_size: int) -> list[list[int]]:
    return batches[rank::world_size]


def collate(
    encoded: Encoded,
    labels: list[int],
    indices: list[int],
    pad_id: int,
    pad_to: int | None = None,
) -> dict[str, torch.Tensor]:
    """Pad the batch to its longest text (or to `pad_to`) and build the model's input tensors."""
    width = pad_to or max(len(encoded["input_ids"][i]) for i in indices)
    batch = {}
    for name, pad_value in (("input_ids", pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
        if name not in encoded:
            continue
        rows = [encoded[name][i] for i in indices]
        batch[name] = torch.tensor([r + [pad_value] * (width - len(r)) for r in rows], dtype=torch.long)
    batch["labels"] = torch.tensor([labels[i] for i in indices], dtype=torch.long)
    return batch
