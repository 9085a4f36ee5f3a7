"""A non-editable install (a wheel) finds the bundled model's artefact without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from listener.scoring.bundled import artefact_dir
from listener.scoring.names import BUNDLED_NAME, BUNDLED_NAMES, canonical

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--wheel-dir", str(out), str(REPO)], check=True, capture_output=True)
    (path,) = out.glob("listener-*.whl")
    return path


@pytest.mark.parametrize("name", sorted({canonical(n) for n in BUNDLED_NAMES}))
def test_wheel_carries_every_file_of_the_bundled_artefacts(wheel: Path, name: str) -> None:
    entries = zipfile.ZipFile(wheel).namelist()
    for f in artefact_dir(name).iterdir():
        assert any(e.endswith(f"/data/share/listener/models/{name}/{f.name}") for e in entries)


def test_installed_wheel_finds_its_artefact_outside_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # --ignore-installed: without it pip would first uninstall this environment's listener.
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed"]
    subprocess.run([*pip, "--prefix", str(env_dir), str(wheel)], check=True, capture_output=True)
    # Dependencies come from this environment; listener itself only from the installed wheel
    # (a plain path entry: the editable install's finder is not loaded this way).
    Path(site_packages, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LISTENER_MODEL_ARTEFACT")
    }
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import listener, listener.scoring.bundled as b; "
            "print(listener.__file__); print(b.artefact_dir())",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout.split()
    assert found[0].startswith(site_packages)
    assert Path(found[1]) == env_dir / "share" / "listener" / "models" / BUNDLED_NAME
