"""llama.cpp's AMX buffers crash at the first decode on some VMs that report AMX: a child
process probes once, and models then load without the extra buffer types."""

from __future__ import annotations

import types

from orps_lsp.model import cpu_probe


def test_the_override_decides_without_a_probe(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu_probe, "_probe", lambda path: (_ for _ in ()).throw(AssertionError("probed")))
    for value, expected in (("0", False), ("1", True)):
        monkeypatch.setenv(cpu_probe.ENV_VAR, value)
        assert cpu_probe.extra_buffers_work(tmp_path / "m.gguf") is expected


def test_a_crashing_probe_is_remembered_per_machine(monkeypatch, tmp_path):
    monkeypatch.delenv(cpu_probe.ENV_VAR, raising=False)
    monkeypatch.setenv("ORPS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cpu_probe, "_cpu_reports_amx", lambda: True)
    calls = []
    monkeypatch.setattr(cpu_probe, "_probe", lambda path: calls.append(path) or False)
    assert cpu_probe.extra_buffers_work(tmp_path / "m.gguf") is False
    assert cpu_probe.extra_buffers_work(tmp_path / "m.gguf") is False and len(calls) == 1  # asked once
    monkeypatch.setattr(cpu_probe, "_cpu_reports_amx", lambda: False)
    assert cpu_probe.extra_buffers_work(tmp_path / "m.gguf") is True  # no AMX: nothing to fear


def test_the_probe_tells_a_dying_child_from_a_working_one(monkeypatch):
    monkeypatch.setattr(cpu_probe, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert cpu_probe._probe("unused") is False
    monkeypatch.setattr(cpu_probe, "_PROBE", "pass")
    assert cpu_probe._probe("unused") is True


def test_models_loaded_inside_get_no_extra_buffers():
    class Params:
        use_extra_bufts = True

    low_level = types.SimpleNamespace(llama_model_default_params=Params)
    module = types.SimpleNamespace(llama_cpp=low_level)
    with cpu_probe.without_extra_buffers(module):
        assert low_level.llama_model_default_params().use_extra_bufts is False
    assert low_level.llama_model_default_params is Params and Params().use_extra_bufts is True
