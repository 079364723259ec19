"""The files generated from the code, and their check.

    python -m orps_lsp.codegen            # write them
    python -m orps_lsp.codegen --check    # exit 1 when one is out of date

From settings_schema.py: client-vscode/package.json's settings contributions,
client-vscode/src/settingsKeys.ts and docs/settings.md; from contract.py:
client-vscode/src/contract.ts. tests/test_settings_schema.py runs the check.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from . import contract, settings_schema

ROOT = Path(__file__).resolve().parents[2]  # the repository (an editable install's source tree)
MANIFEST = "client-vscode/package.json"
GENERATED: dict[str, Callable[[], str]] = {  # path from the repository root -> what it holds
    "client-vscode/src/settingsKeys.ts": settings_schema.typescript_keys,
    "client-vscode/src/contract.ts": contract.typescript,
    "docs/settings.md": settings_schema.settings_page,
}


def package_json(current: str) -> str:
    """package.json with its settings contributions generated (the rest kept)."""
    manifest = json.loads(current)
    manifest["contributes"]["configuration"]["properties"] = settings_schema.vscode_properties()
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def drifted(root: Path = ROOT) -> list[str]:
    """The generated files that differ from what the code makes."""
    stale = [
        path
        for path, make in GENERATED.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != make()
    ]
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    if manifest["contributes"]["configuration"]["properties"] != settings_schema.vscode_properties():
        stale.append(MANIFEST)
    return stale


def write(root: Path = ROOT) -> list[str]:
    """Write the generated files that are out of date; their paths."""
    stale = drifted(root)
    for path in stale:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        text = package_json(target.read_text(encoding="utf-8")) if path == MANIFEST else GENERATED[path]()
        target.write_text(text, encoding="utf-8")
    return stale


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        out_of_date = drifted()
        print("\n".join(f"out of date: {path}" for path in out_of_date) or "generated files up to date")
        sys.exit(1 if out_of_date else 0)
    print("\n".join(f"wrote {path}" for path in write()) or "generated files up to date")
