"""The classifier network behind the scorer: the plain-torch BERT where the model directory
holds one (the bundled models; see bert.py), otherwise ``transformers``' AutoModel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Network:
    """A loaded classifier: ``run(ids, mask, features)`` -> (logits, final [CLS] state or None)."""

    module: Any
    """The torch module (its Linear layers are what int8 quantisation replaces)."""
    id2label: dict[int, str]
    max_positions: int
    hidden_size: int
    commit: str
    plain: bool
    """True for the plain-torch BERT, False for a transformers model."""

    def run(self, ids: Any, mask: Any, features: bool) -> tuple[Any, Any]:
        if self.plain:
            logits, cls = self.module(ids, mask)
            return logits, cls if features else None
        out = self.module(input_ids=ids, attention_mask=mask, output_hidden_states=features)
        return out.logits, out.hidden_states[-1][:, 0] if features else None


def load_network(source: str | Path) -> Network:
    """The network of a local model directory or hub id (OSError/ValueError when unloadable)."""
    from listener.scoring.bert import is_bert_classifier, load_bert
    from listener.scoring.q4embedding import load_q4_embedding

    path = Path(source)
    if path.is_dir() and is_bert_classifier(path):
        bert = load_bert(path, load_q4_embedding(path))
        config = bert.config
        return Network(
            module=bert,
            id2label={int(k): str(v) for k, v in config["id2label"].items()},
            max_positions=int(config["max_position_embeddings"]),
            hidden_size=int(config["hidden_size"]),
            commit="unknown",
            plain=True,
        )
    from transformers import AutoModelForSequenceClassification

    # Mentions are short: on CPU the eager attention beats SDPA's flash kernel there
    # (470 vs 437 mentions/s with the bundled model on 2 cores).
    model = AutoModelForSequenceClassification.from_pretrained(
        str(source), attn_implementation="eager"
    ).eval()
    if path.is_dir():
        _use_packed_embedding(model, path)
    return Network(
        module=model,
        id2label=dict(model.config.id2label),
        max_positions=int(getattr(model.config, "max_position_embeddings", 512)),
        hidden_size=int(model.config.hidden_size),
        commit=getattr(model.config, "_commit_hash", None) or "unknown",
        plain=False,
    )


def _use_packed_embedding(model: Any, path: Path) -> None:
    """Swap in the exact 4-bit embedding when the model directory has one: the fp32 copy then
    stays untouched on disk instead of filling memory."""
    from listener.scoring.q4embedding import load_q4_embedding

    packed = load_q4_embedding(path)
    current = model.get_input_embeddings()
    if packed is not None and tuple(current.weight.shape) == (
        packed.num_embeddings,
        packed.embedding_dim,
    ):
        model.set_input_embeddings(packed)
