from pathlib import Path

import pytest

from orps_lsp import engine


def test_parse_target():
    assert engine.parse_target("src/a.py::f") == (Path("src/a.py"), "f")
    assert engine.parse_target("a.py::K::m") == (Path("a.py"), "K.m")
    with pytest.raises(engine.InputError):
        engine.parse_target("a.py")


def test_write_refuses_a_file_changed_meanwhile(tmp_path):
    target = tmp_path / "m.py"
    target.write_text("x = 1\n")
    started_from = engine.content_hash("x = 1\n")
    target.write_text("x = 2\n")  # the user edited the file during the search
    with pytest.raises(engine.InputError, match="changed while the search ran"):
        engine.write_atomically(target, "x = 3\n", started_from)
    assert target.read_text() == "x = 2\n"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_write_is_atomic_and_keeps_the_mode(tmp_path):
    target = tmp_path / "m.py"
    target.write_text("x = 1\n")
    target.chmod(0o640)
    engine.write_atomically(target, "x = 3\n", engine.content_hash("x = 1\n"))
    assert target.read_text() == "x = 3\n" and (target.stat().st_mode & 0o777) == 0o640


def test_project_root_is_the_nearest_marker(example_project):
    assert engine.find_project_root(example_project / "slowmath.py") == example_project
