"""Where the bundled model's artefact lives and where its assembled directory goes."""

from __future__ import annotations

import logging
import os
import re
import shutil
import site
import sys
import sysconfig
from pathlib import Path

from listener.errors import ModelError
from listener.scoring.assemble import MARKER_FILE, artefact_digest, assemble, read_artefact
from listener.scoring.names import BUNDLED_NAME, canonical

log = logging.getLogger(__name__)

ARTEFACT_ENV = "LISTENER_MODEL_ARTEFACT"
CACHE_ENV = "LISTENER_CACHE_DIR"


def artefact_dir(name: str = BUNDLED_NAME) -> Path:
    """The committed artefact: ``$LISTENER_MODEL_ARTEFACT``, the repo's models/ (source checkout,
    editable install), or where a wheel puts it (``<prefix>/share/listener/models/``)."""
    name = canonical(name)
    candidates = [
        Path(os.environ[ARTEFACT_ENV]) if os.environ.get(ARTEFACT_ENV) else None,
        Path(__file__).resolve().parents[2] / "models" / name,
        *(Path(prefix) / "share" / "listener" / "models" / name for prefix in _install_prefixes()),
    ]
    for path in candidates:
        if path is not None and (path / "artefact.json").is_file():
            return path
    raise ModelError(
        f"the bundled model artefact models/{name}/ is missing: reinstall listener, or point "
        f"${ARTEFACT_ENV} at a directory holding artefact.json"
    )


def _install_prefixes() -> list[str]:
    """Where pip puts a wheel's data files: the environment's prefix, or the user base."""
    return [sysconfig.get_path("data"), site.getuserbase()]


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir`` if given, else ``$LISTENER_CACHE_DIR``, else ``~/.cache/listener``."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "listener"


def bundled_model_dir(
    cache_dir: str | os.PathLike[str] | None = None, name: str = BUNDLED_NAME
) -> Path:
    """Where the assembled model for the current artefact lives (it may not exist yet)."""
    name = canonical(name)
    src = artefact_dir(name)
    meta = read_artefact(src)
    return cache_root(cache_dir) / "models" / f"{name}-{meta['version']}-{artefact_digest(src)}"


def bundled_quantize(name: str) -> bool:
    """Whether the bundled model ``name`` runs int8 unless ``[model] quantize`` says otherwise
    (its artefact's ``quantize``, true unless an artefact says otherwise)."""
    return bool(read_artefact(artefact_dir(name)).get("quantize", True))


def bundled_model_id(name: str = BUNDLED_NAME) -> str:
    """'name@version' of the bundled model, without assembling it."""
    name = canonical(name)
    return f"{name}@{read_artefact(artefact_dir(name))['version']}"


def ensure_bundled(
    cache_dir: str | os.PathLike[str] | None = None,
    name: str = BUNDLED_NAME,
    *,
    quiet: bool = False,
) -> Path:
    """The assembled bundled model directory, assembling it first when missing (seconds)."""
    dest = bundled_model_dir(cache_dir, name)
    if (dest / MARKER_FILE).is_file():
        return dest
    if not quiet:
        print(
            f"listener: assembling the bundled sentiment model into {dest} "
            "(first use; takes a few seconds)",
            file=sys.stderr,
        )
    return assemble(artefact_dir(name), dest)


def prune_assembled(keep: Path, name: str = BUNDLED_NAME) -> list[Path]:
    """Delete the other assembled versions of ``name`` beside ``keep`` (left by earlier
    releases; about 0.5 GB each) and return them. Only complete assemblies (marker file
    present) are touched: another process may be assembling into a temporary directory."""
    name = canonical(name)
    pattern = re.compile(rf"{re.escape(name)}-[^-]+-[0-9a-f]{{12}}")  # name-version-digest
    removed: list[Path] = []
    for path in sorted(keep.parent.iterdir()):
        if pattern.fullmatch(path.name) and path != keep and (path / MARKER_FILE).is_file():
            shutil.rmtree(path, ignore_errors=True)
            log.info("removed the older assembled model %s", path)
            removed.append(path)
    return removed
