import hashlib

import pytest

from orps_lsp.model import embedded
from orps_lsp.model.base import ModelError


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Two tiny 'model part' packages on sys.path, like the PyPI ones."""
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 500]
    for index, chunk in enumerate(chunks, start=1):
        data = tmp_path / "site" / f"fakemodel_part{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{index:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    return embedded.EmbeddedModel(
        "fake", "test", "fakemodel_part", 2, "model", len(whole), hashlib.sha256(whole).hexdigest()
    ), whole


def test_assembles_verifies_and_reuses(fake_parts, tmp_path, monkeypatch):
    model, whole = fake_parts
    monkeypatch.setitem(embedded.EMBEDDED_MODELS, "fake", model)
    path = embedded.ensure_embedded("fake", tmp_path / "cache")
    assert path.read_bytes() == whole
    stamp = path.with_suffix(".verified").read_text()
    assert embedded.ensure_embedded("fake", tmp_path / "cache") == path  # reused, not rebuilt
    assert path.with_suffix(".verified").read_text() == stamp


def test_wrong_checksum_leaves_nothing_behind(fake_parts, tmp_path, monkeypatch):
    model, _ = fake_parts
    broken = embedded.EmbeddedModel(**{**model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(embedded.EMBEDDED_MODELS, "fake", broken)
    with pytest.raises(ModelError, match="do not form the expected model"):
        embedded.ensure_embedded("fake", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_part_package_says_how_to_install(monkeypatch, tmp_path):
    ghost = embedded.EmbeddedModel("ghost", "test", "no_such_pkg_part", 2, "model", 1, "0" * 64)
    monkeypatch.setitem(embedded.EMBEDDED_MODELS, "ghost", ghost)
    with pytest.raises(ModelError, match=r"pip install 'orps-lsp\[model\]'"):
        embedded.ensure_embedded("ghost", tmp_path)


def test_unknown_name_and_bad_paths(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        embedded.resolve_model_path(str(tmp_path / "nope.gguf"))
    text = tmp_path / "t.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a GGUF"):
        embedded.resolve_model_path(str(text))
    with pytest.raises(ModelError, match="unknown model name"):
        embedded.ensure_embedded("gpt-17")


def test_the_real_embedded_model_is_installed_and_verified():
    path = embedded.ensure_embedded()
    assert path.stat().st_size == embedded.EMBEDDED_MODELS[embedded.DEFAULT_MODEL].size
