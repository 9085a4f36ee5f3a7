"""The bundled model's network in plain torch: BERT for sequence classification, inference only.

It reads the same directory and weights as ``transformers``' ``BertForSequenceClassification``
(absolute positions, exact GELU, post-layer-norm, [CLS] pooler + linear classifier) and computes
the same logits. Two reasons to have it: importing ``transformers`` cost `listener score` about
1.5 s of its start-up, and the query/key/value projections run as one matrix product (one int8
quantisation of each token instead of three). Any other model goes through ``transformers``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS = "model.safetensors"


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in = nn.Linear(hidden, intermediate)
        self.ffn_out = nn.Linear(intermediate, hidden)
        self.norm2 = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d)) + mask
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        context = context.transpose(1, 2).reshape(b, t, h)
        x = self.norm1(x + self.out(context))
        return self.norm2(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class BertClassifier(nn.Module):
    """``forward(ids, mask) -> (logits, final [CLS] hidden state)``."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        hidden = int(config["hidden_size"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.config = config
        self.word: nn.Module = nn.Embedding(int(config["vocab_size"]), hidden)
        self.position = nn.Embedding(int(config["max_position_embeddings"]), hidden)
        self.token_type = nn.Embedding(int(config.get("type_vocab_size", 2)), hidden)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(
                hidden,
                int(config["num_attention_heads"]),
                int(config["intermediate_size"]),
                eps,
            )
            for _ in range(int(config["num_hidden_layers"]))
        )
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, len(config["id2label"]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word(ids) + self.position(positions) + self.token_type.weight[0]
        x = self.norm(x)
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, additive)
        cls = x[:, 0]
        return self.classifier(torch.tanh(self.pooler(cls))), cls


def is_bert_classifier(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a plain BERT sequence classifier this module can run."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        config.get("architectures") == ["BertForSequenceClassification"]
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and (model_dir / WEIGHTS).is_file()
    )


def _renamed(name: str) -> str | None:
    """transformers' parameter name -> ours (None: not used at inference)."""
    fixed = {
        "bert.embeddings.word_embeddings.weight": "word.weight",
        "bert.embeddings.position_embeddings.weight": "position.weight",
        "bert.embeddings.token_type_embeddings.weight": "token_type.weight",
        "bert.embeddings.LayerNorm.weight": "norm.weight",
        "bert.embeddings.LayerNorm.bias": "norm.bias",
        "bert.pooler.dense.weight": "pooler.weight",
        "bert.pooler.dense.bias": "pooler.bias",
        "classifier.weight": "classifier.weight",
        "classifier.bias": "classifier.bias",
    }
    if name in fixed:
        return fixed[name]
    if not name.startswith("bert.encoder.layer."):
        return None
    index, _, rest = name.removeprefix("bert.encoder.layer.").partition(".")
    parts = {
        "attention.output.dense": "out",
        "attention.output.LayerNorm": "norm1",
        "intermediate.dense": "ffn_in",
        "output.dense": "ffn_out",
        "output.LayerNorm": "norm2",
    }
    for prefix, ours in parts.items():
        if rest.startswith(prefix + "."):
            return f"layers.{index}.{ours}.{rest.removeprefix(prefix + '.')}"
    return None


@contextmanager
def _without_init() -> Iterator[None]:
    """Module constructors skip their random initialisation. On the meta device it costs no
    memory, but ``normal_`` there imports torch._dynamo: about a second of `listener score`."""
    names = ("normal_", "uniform_", "kaiming_uniform_", "ones_", "zeros_")
    saved = {name: getattr(nn.init, name) for name in names}
    for name in names:
        setattr(nn.init, name, lambda tensor, *_args, **_kwargs: tensor)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def load_bert(model_dir: Path, word_embedding: nn.Module | None = None) -> BertClassifier:
    """The classifier in ``model_dir`` (fp32, eval mode). With ``word_embedding`` given (the
    packed 4-bit one), the 384 MB fp32 embedding matrix is never read."""
    from safetensors import safe_open

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    with torch.device("meta"), _without_init():  # every tensor is assigned below
        model = BertClassifier(config)
    if word_embedding is not None:
        model.word = word_embedding  # holds no parameters: nothing to load for it
    state: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str, str], torch.Tensor] = {}
    with safe_open(str(model_dir / WEIGHTS), framework="pt") as weights:
        for name in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
            if word_embedding is not None and name.endswith("word_embeddings.weight"):
                continue
            if ".attention.self." in name:
                index = name.removeprefix("bert.encoder.layer.").split(".")[0]
                which, kind = name.rsplit(".", 2)[-2:]
                qkv[(index, which, kind)] = weights.get_tensor(name).float()
                continue
            ours = _renamed(name)
            if ours is not None:
                state[ours] = weights.get_tensor(name).float()
    for index in {key[0] for key in qkv}:
        for kind in ("weight", "bias"):
            state[f"layers.{index}.qkv.{kind}"] = torch.cat(
                [qkv[(index, which, kind)] for which in ("query", "key", "value")]
            )
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise ValueError(
            f"{model_dir / WEIGHTS}: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return model.eval()
