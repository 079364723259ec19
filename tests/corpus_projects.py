"""The corpus of real projects: published sdists that ship their tests, with different
layouts, build backends, install modes and pytest configurations (scouted and
checked by hand: each wrong rewrite fails the project's own tests, each right one
passes them). The rewrites are in tests/corpus/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REWRITES = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    sha256: str  # of the sdist
    editable: bool  # pip install -e (else a regular install into site-packages)
    file: str  # the module, relative to the project root
    function: str
    what: str  # layout, install and configuration, for the test ids and the notes
    extra_requirements: tuple[str, ...] = field(default=())

    @property
    def right(self) -> str:
        return (REWRITES / f"{self.name}_right.py").read_text()

    @property
    def wrong(self) -> str:
        return (REWRITES / f"{self.name}_wrong.py").read_text()


PROJECTS = [
    Project(
        "markupsafe",
        "3.0.4",
        "2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6",
        True,
        "src/markupsafe/_native.py",
        "_escape_inner",
        "src layout, C extension, editable (path .pth), filterwarnings=error, autouse conftest fixture",
    ),
    Project(
        "toolz",
        "1.2.0",
        "9667a038e9d6ecba37995e26cb2f59ec6420b6ad8dd9677de59db9b956b08490",
        True,
        "toolz/itertoolz.py",
        "frequencies",
        "flat, tests inside the package, editable (import hook), --strict-config, filterwarnings=error",
    ),
    Project(
        "boltons",
        "26.2.0",
        "d39cfd15c1a1c3bd4d705c82252fa9edb8e4f5e8cc039f8e39afac7b1b47e92c",
        True,
        "boltons/strutils.py",
        "format_int_list",
        "flat, tests/, flit editable (path .pth), conftest pytest_ignore_collect",
    ),
    Project(
        "humanize",
        "4.17.0",
        "1d6a36c453dbfbb3f0b34601d2e0b4ce5d48d780305cd45714843f0068fde6ac",
        True,
        "src/humanize/time.py",
        "_rounding_by_fmt",
        "src layout, hatchling editable, pytest 9 [tool.pytest], --doctest-modules, filterwarnings=error",
        ("freezegun==1.5.5",),
    ),
    Project(
        "inflection",
        "0.5.1",
        "1a29730d366e996aaacffb2f1f1cb9593dc38e2ddd30c91250c6dde09ea9b417",
        False,
        "inflection/__init__.py",
        "pluralize",
        "flat, legacy setup.py, installed non-editable in site-packages, no pytest configuration",
    ),
]
