"""Build the configured Scorer from the ``[model]`` settings (plain keyword values)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from listener.errors import ModelError
from listener.ports import Scorer
from listener.scoring.assemble import MARKER_FILE
from listener.scoring.bundled import bundled_quantize, ensure_bundled
from listener.scoring.names import BUNDLED_NAME, BUNDLED_NAMES

if TYPE_CHECKING:
    from listener.config import ModelSettings


def _looks_like_path(name: str) -> bool:
    """A local path (absolute, relative with a dot, home-based, or existing); otherwise a hub id."""
    return name.startswith(("/", ".", "~")) or Path(name).expanduser().exists()


def resolve_model_dir(name: str, cache_dir: str | None = None) -> str:
    """A local directory (or, for a Hugging Face id, the id itself) to load ``name`` from.

    A bundled name is assembled into the cache on first use; a local path must exist.
    Raises ModelError saying how to get the model.
    """
    if name in BUNDLED_NAMES:
        return str(ensure_bundled(cache_dir, name))
    if _looks_like_path(name):
        path = Path(name).expanduser()
        if not (path / "config.json").is_file():
            raise ModelError(
                f"no model at {path} (expected a Hugging Face model directory with config.json): "
                f"save one there with `huggingface-cli download ORG/MODEL --local-dir {path}`, "
                f'or set [model] name = "{BUNDLED_NAME}" for the bundled model'
            )
        return str(path)
    return name


def local_snapshot(name: str, cache_dir: str | None = None) -> Path:
    """The local directory holding ``name`` (downloading a Hugging Face id when needed)."""
    source = resolve_model_dir(name, cache_dir)
    if Path(source).is_dir():
        return Path(source)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source))
    except Exception as exc:  # huggingface_hub raises many unrelated types
        raise ModelError(
            f"cannot fetch model {name!r} from the Hugging Face hub ({exc.__class__.__name__}): "
            "check the id and the network, or download it elsewhere with "
            f"`huggingface-cli download {name} --local-dir DIR` and set [model] name = DIR"
        ) from exc


def model_id_for(name: str, source: str) -> str | None:
    """'name@version' recorded with scores: the bundled version, a hub commit, or a content hash."""
    path = Path(source)
    marker = path / MARKER_FILE
    if marker.is_file():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        return f"{meta.get('name', name)}@{meta.get('version', '0')}"
    if path.is_dir():
        h = hashlib.sha256((path / "config.json").read_bytes())
        for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
            h.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return f"{path.resolve().name}@{h.hexdigest()[:12]}"
    return None  # a hub id: the scorer names it after the commit it loaded


def build_scorer(
    *,
    name: str,
    labels: dict[str, str],
    batch_size: int,
    max_length: int,
    quantize: bool | None,
    threads: int,
    cache_dir: str | None,
) -> Scorer:
    """The configured sentiment Scorer. Raises ModelError when the model cannot be had.

    ``quantize=None`` is the model's own default: int8, except for a bundled model whose
    artefact says otherwise.
    """
    from listener.scoring.transformer import TransformerScorer

    source = resolve_model_dir(name, cache_dir)
    if quantize is None:
        quantize = bundled_quantize(name) if name in BUNDLED_NAMES else True
    return TransformerScorer(
        source=source,
        model_id=model_id_for(name, source),
        label_map=dict(labels),
        batch_size=batch_size,
        max_length=max_length,
        quantize=quantize,
        threads=threads,
    )


def scorer_for(settings: ModelSettings) -> Scorer:
    """The Scorer the ``[model]`` section describes."""
    return build_scorer(
        name=settings.name,
        labels=dict(settings.labels),
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        quantize=settings.quantize,
        threads=settings.threads,
        cache_dir=settings.cache_dir,
    )
