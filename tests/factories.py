"""Small builders of domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.domain import BrandQuery, Mention, Sentiment

# Recent (alert rules ignore mentions that were old when collected) and on the hour (trend buckets).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
QUERY = BrandQuery(brand="Aurora Air", query='"aurora air"', handles=("AuroraAir",))


def mention(n: int, **overrides: Any) -> Mention:
    values: dict[str, Any] = {
        "source": "replay",
        "external_id": str(n),
        "brand": "Aurora Air",
        "text": f"mention {n} of aurora air",
        "author": f"user{n}",
        "created_at": T0 + timedelta(minutes=n),
        "raw": {"id": str(n)},
    }
    values.update(overrides)
    return Mention(**values)


def sentiment(label: str = "negative", anger: float = 0.1) -> Sentiment:
    probs = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    probs[label] = 0.8
    return Sentiment(label=label, probabilities=probs, anger=anger, lang="en")  # type: ignore[arg-type]


def tiny_model(path: Path, id2label: dict[int, str] | None = None) -> Path:
    """A random 1-layer BERT classifier saved as a normal Hugging Face directory: a real
    transformers model for tests that need one but not the bundled model's quality. Without
    ``id2label`` the labels keep the default LABEL_i names."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "good", "bad", "coffee", "awful", "great"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    ).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=64,
        num_labels=3,
        pad_token_id=1,
        **(
            {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}
            if id2label
            else {}
        ),
    )
    BertForSequenceClassification(config).save_pretrained(path)
    return path
