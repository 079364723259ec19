"""The remote backend (`model/http.py`) against a real server and against stubs.

The real server is llama-cpp-python's own (`python -m llama_cpp.server`) with
the embedded GGUF, started on a free port (the `llama_server` fixture in
conftest.py, shared with test_lsp_remote.py). It serves one request at a
time (a lock around its one `Llama`; it has no slots setting), so concurrent
requests queue there. It starts a new assistant turn rather than continuing
a trailing assistant message, which exercises the prefill fallback.

Faults a real server will not produce on demand (slowness, 429s, a
half-sent answer, a hanging stream) come from a small scripted stub.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import closed_port, start_llama_cpp_server, stop_server  # and the llama_server fixture
from test_cli import one_error_line, orps

from orps_lsp.cancel import Cancelled, CancelToken
from orps_lsp.model.base import ChatRequest, ModelError
from orps_lsp.model.http import OpenAICompatibleModel, after_prefill, normalize_endpoint
from orps_lsp.model.loader import load_model

QUESTION = [{"role": "user", "content": "Write has_duplicates(items)."}]
PREFILL = "```python\ndef has_duplicates(items):\n"
FAST_BODY = "    return len(set(items)) != len(items)"


# --------------------------------------------------------------------- stub
class Stub(ThreadingHTTPServer):
    """A scripted OpenAI-compatible server in a thread.

    Each chat request takes the next behaviour from `script` (the default
    answers "ok"); `continues` says whether it continues a trailing
    assistant message, which the client's probe should find out.
    """

    daemon_threads = True

    def __init__(self, *, models=("stub-model",), api_key: str | None = None, continues: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.models, self.api_key, self.continues = list(models), api_key, continues
        self.script: list[Callable[[_StubHandler, dict], None]] = []
        self.default: Callable[[_StubHandler, dict], None] = answer("ok")
        self.chats: list[dict] = []  # streamed chat bodies, in arrival order
        self.closed_by_client: list[float] = []
        self.active = self.most_active = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request, client_address) -> None:  # a client that hung up is expected here
        pass


class _StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, *args) -> None:
        pass

    def send_json(self, status: int, data: dict, headers: dict | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def authorised(self) -> bool:
        if self.server.api_key and self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            self.send_json(401, {"error": {"message": "Invalid API key"}})
            return False
        return True

    def do_GET(self) -> None:
        if self.path != "/v1/models":
            return self.send_json(404, {"detail": "Not Found"})
        if self.authorised():
            self.send_json(200, {"object": "list", "data": [{"id": name, "object": "model"} for name in self.server.models]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.authorised():
            return
        if not body.get("stream"):  # the client's prefill probe: count prompt tokens like a template would
            trailing = body["messages"][-1]["role"] == "assistant"
            tokens = 10 + (0 if not trailing else 1 if self.server.continues else 6)
            return self.send_json(
                200,
                {
                    "choices": [{"message": {"content": "x"}, "finish_reason": "length"}],
                    "usage": {"prompt_tokens": tokens, "completion_tokens": 1},
                },
            )
        stub = self.server
        with stub.lock:
            stub.chats.append(body)
            behaviour = stub.script.pop(0) if stub.script else stub.default
            stub.active += 1
            stub.most_active = max(stub.most_active, stub.active)
        try:
            behaviour(self, body)
        finally:
            with stub.lock:
                stub.active -= 1

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes

    def event(self, data: dict | str) -> None:
        self.wfile.write(b"data: " + (data if isinstance(data, str) else json.dumps(data)).encode() + b"\n\n")
        self.wfile.flush()


Behaviour = Callable[[_StubHandler, dict], None]


def answer(
    text: str | Callable[[dict], str],
    *,
    delay: float = 0.0,
    usage: dict | None = None,
    timings: dict | None = None,
    finish: str | None = "stop",
    done: bool = True,
) -> Behaviour:
    """Stream `text` (or text made from the request) in small pieces, after `delay` seconds."""

    def behave(handler: _StubHandler, body: dict) -> None:
        time.sleep(delay)
        handler.start_stream()
        content = text(body) if callable(text) else text
        for start in range(0, len(content), 4):
            handler.event({"choices": [{"delta": {"content": content[start : start + 4]}, "finish_reason": None}]})
        if finish:
            handler.event({"choices": [{"delta": {}, "finish_reason": finish}], "usage": usage, "timings": timings})
        if done:
            handler.event("[DONE]")

    return behave


def status(code: int, retry_after: str | None = None) -> Behaviour:
    def behave(handler: _StubHandler, body: dict) -> None:
        handler.send_json(
            code, {"error": {"message": f"stub says {code}"}}, {"Retry-After": retry_after} if retry_after else None
        )

    return behave


def hang_after_one_piece(handler: _StubHandler, body: dict) -> None:
    """Send one piece, then keep-alive pings until the client hangs up (recorded) or 20 s pass."""
    handler.start_stream()
    handler.event({"choices": [{"delta": {"content": "    "}, "finish_reason": None}]})
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            time.sleep(0.05)
            handler.wfile.write(b": ping\n\n")
            handler.wfile.flush()
    except OSError:
        handler.server.closed_by_client.append(time.monotonic())


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.shutdown()
    server.server_close()


def remote(url: str, **options) -> OpenAICompatibleModel:
    return OpenAICompatibleModel(url, **{"model": "stub-model", "timeout": 10.0, **options})


# ----------------------------------------------------------- pure functions
@pytest.mark.parametrize(
    "given, expected",
    [
        ("gpu-box:8080", "http://gpu-box:8080/v1"),
        ("http://gpu-box:8080/", "http://gpu-box:8080/v1"),
        ("https://llm.example.com/v1/chat/completions", "https://llm.example.com/v1"),
        ("http://localhost:11434/v1/", "http://localhost:11434/v1"),
    ],
)
def test_endpoint_is_normalised(given, expected):
    assert normalize_endpoint(given) == expected


@pytest.mark.parametrize("given", ["ftp://host/v1", "http://host:notaport/v1", "http://"])
def test_bad_endpoints_are_refused(given):
    with pytest.raises(ModelError, match="endpoint"):
        normalize_endpoint(given)


@pytest.mark.parametrize(
    "text, expected",
    [
        (FAST_BODY, FAST_BODY),  # the server continued the prefill
        (PREFILL + FAST_BODY, FAST_BODY),  # a new turn that wrote the prefill again
        ("Here it is:\n\n" + PREFILL + FAST_BODY, FAST_BODY),
        (
            "```python\nfrom collections import Counter\n\ndef has_duplicates(items):\n    return max(Counter(items).values()) > 1",
            "    return max(Counter(items).values()) > 1\n\n\nfrom collections import Counter",
        ),  # imports moved after
        ("def has_duplicates(items):\n" + FAST_BODY, FAST_BODY),
    ],
)
def test_after_prefill(text, expected):
    assert after_prefill(PREFILL, text) == expected
    assert after_prefill("Critique:", "Critique: too slow.\nScore: 2") == " too slow.\nScore: 2"
    assert after_prefill("Critique:", " too slow.\nScore: 2") == " too slow.\nScore: 2"


# ------------------------------------------------------------ with the stub
def test_chat_streams_and_counts(stub):
    stub.script = [
        answer(FAST_BODY, usage={"prompt_tokens": 120, "completion_tokens": 9}, timings={"prompt_n": 20, "cache_n": 100})
    ]
    model = remote(stub.url)
    completion = model.chat(QUESTION, prefill=PREFILL, max_tokens=64, temperature=0.3, seed=7, stop=["\n```"])
    assert completion.text == FAST_BODY and completion.finish_reason == "stop"
    assert (completion.prompt_tokens, completion.prompt_tokens_evaluated, completion.completion_tokens) == (120, 20, 9)
    sent = stub.chats[0]
    assert sent["messages"][-1] == {"role": "assistant", "content": PREFILL}  # the prefill, to be continued
    assert (sent["seed"], sent["temperature"], sent["max_tokens"], sent["stop"], sent["model"]) == (
        7,
        0.3,
        64,
        ["\n```"],
        "stub-model",
    )
    assert model.continues_prefill is True
    model.close()


def test_new_turn_server_gets_stops_applied_by_the_client(stub):
    stub.continues = False
    stub.script = [answer("Sure:\n```python\nimport math\n\ndef has_duplicates(items):\n" + FAST_BODY + "\n```\nThis is fast.")]
    model = remote(stub.url)
    model.health_check()
    completion = model.chat(QUESTION, prefill=PREFILL, stop=["\n```"])
    assert model.continues_prefill is False
    assert "stop" not in stub.chats[0]  # the server would have stopped at the opening fence
    assert completion.text == FAST_BODY + "\n\n\nimport math" and completion.finish_reason == "stop"
    assert completion.completion_tokens > 0 and completion.prompt_tokens > 0  # estimated
    model.close()


def test_chat_many_runs_concurrently_in_request_order(stub):
    stub.default = answer(lambda body: f"seed {body['seed']}", delay=0.6)
    model = remote(stub.url, max_parallel=4)
    started = time.perf_counter()
    completions = model.chat_many([ChatRequest(QUESTION, seed=seed) for seed in range(4)])
    assert time.perf_counter() - started < 1.5  # four requests of 0.6 s each, side by side
    assert [c.text for c in completions] == [f"seed {seed}" for seed in range(4)]
    assert stub.most_active == 4
    model.close()


def test_max_parallel_bounds_requests_in_flight(stub):
    stub.default = answer("ok", delay=0.3)
    model = remote(stub.url, max_parallel=2)
    model.chat_many([ChatRequest(QUESTION, seed=seed) for seed in range(5)])
    assert stub.most_active == 2 and len(stub.chats) == 5
    model.close()


def test_busy_server_is_retried(stub):
    stub.script = [status(429, retry_after="0"), status(503), answer("ok")]
    model = remote(stub.url, retries=3)
    assert model.chat(QUESTION).text == "ok"
    assert len(stub.chats) == 3
    model.close()


def test_busy_server_gives_up_with_a_message(stub):
    stub.default = status(429, retry_after="0")
    model = remote(stub.url, retries=1)
    with pytest.raises(ModelError, match=r"is busy \(HTTP 429: stub says 429, 2 tries\)"):
        model.chat(QUESTION)
    model.close()


@pytest.mark.timeout(30)
def test_server_down_is_reported_fast():
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"cannot reach the model server at http://127\.0\.0\.1:\d+/v1: .*is it running"):
        load_model(endpoint=f"http://127.0.0.1:{closed_port()}/v1")
    assert time.perf_counter() - started < 5


@pytest.mark.timeout(30)
def test_slow_server_times_out(stub):
    stub.script = [answer("late", delay=3)]
    model = remote(stub.url, timeout=0.5)
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"sent nothing for 0\.5 s"):
        model.chat(QUESTION)
    assert time.perf_counter() - started < 2.5
    model.close()


def test_wrong_model_name_is_named(stub):
    with pytest.raises(ModelError, match=r"has no model named 'nope'; it serves: stub-model"):
        load_model(endpoint=stub.url, remote_model="nope")


def test_model_name_is_required_when_the_server_has_several(stub):
    stub.models = ["a", "b"]
    with pytest.raises(ModelError, match=r"serves several models \(a, b\); choose one with --remote-model"):
        load_model(endpoint=stub.url)


def test_api_key(stub, monkeypatch):
    stub.api_key = "s3cret"
    monkeypatch.delenv("ORPS_API_KEY", raising=False)
    with pytest.raises(ModelError, match="requires an API key"):
        load_model(endpoint=stub.url)
    with pytest.raises(ModelError, match="rejected the API key"):
        load_model(endpoint=stub.url, api_key="wrong")
    monkeypatch.setenv("ORPS_API_KEY", "s3cret")
    model = load_model(endpoint=stub.url)
    assert model.chat(QUESTION).text == "ok"
    assert "s3cret" not in json.dumps(model.describe())
    assert model.describe()["backend"] == "OpenAI-compatible HTTP" and model.describe()["api_key"] == "set"
    model.close()


def test_server_gone_mid_answer(stub):
    stub.script = [answer("    return", finish=None, done=False)]  # the connection closes after two pieces
    model = remote(stub.url)
    with pytest.raises(ModelError, match="closed the connection in the middle of an answer"):
        model.chat(QUESTION)
    model.close()


def test_answer_cut_short_by_llama_cpp_server_interruption(stub):
    stub.script = [answer("    return", finish=None, done=True)]
    model = remote(stub.url)
    with pytest.raises(ModelError, match="--interrupt_requests False"):
        model.chat(QUESTION)
    model.close()


@pytest.mark.timeout(30)
def test_cancel_closes_every_request_within_a_second(stub):
    stub.default = hang_after_one_piece
    model = remote(stub.url, max_parallel=3)
    cancel = CancelToken()
    outcome: dict = {}

    def work() -> None:
        try:
            model.chat_many([ChatRequest(QUESTION, seed=seed) for seed in range(3)], cancel=cancel)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    while len(stub.chats) < 3:
        time.sleep(0.02)
    time.sleep(0.3)
    cancelled_at = time.monotonic()
    cancel.cancel()
    worker.join(1.0)
    assert not worker.is_alive() and isinstance(outcome.get("error"), Cancelled)
    deadline = time.monotonic() + 1.0
    while len(stub.closed_by_client) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(stub.closed_by_client) == 3 and max(stub.closed_by_client) - cancelled_at < 1.0
    with pytest.raises(Cancelled):  # a cancelled token stops later calls at once
        model.chat(QUESTION, cancel=cancel)
    model.close()


def test_cli_search_through_a_stub_server(example_project, stub):
    critic, programmer = answer(" Fine.\nScore: 5\nDone: yes"), answer(FAST_BODY, delay=0.5)  # long enough to overlap
    stub.default = lambda handler, body: (critic if body["messages"][-1]["content"] == "Critique:" else programmer)(handler, body)
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "--quiet",
        "-N",
        "2",
        "-D",
        "1",
        "--endpoint",
        stub.url,
        "--parallel",
        "2",
        cwd=example_project,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "stub-model" and len(report["nodes"]) == 2
    assert all(node["valid"] and node["execution"]["passed"] == 6 for node in report["nodes"])
    assert stub.most_active == 2  # the two candidates of the root were asked together


def test_cli_reports_an_unreachable_server(example_project):
    result = orps(
        "optimize", "slowmath.py::has_duplicates", "--endpoint", f"127.0.0.1:{closed_port()}", cwd=example_project, timeout=60
    )
    assert "cannot reach the model server" in one_error_line(result)


# ------------------------------------------------------- with a real server
@pytest.mark.real_model
def test_health_check_on_llama_cpp_server(llama_server):
    model = load_model(endpoint=llama_server)
    info = model.describe()
    assert info["backend"] == "OpenAI-compatible HTTP" and info["endpoint"] == llama_server
    assert model.name == "qwen2.5-coder-0.5b" and info["model"].endswith("qwen2.5-coder-0.5b.gguf")
    assert model.continues_prefill is False  # it starts a new turn after a trailing assistant message
    model.close()
    # It serves any name as its one model, so the client checks names against /v1/models.
    with pytest.raises(ModelError, match="has no model named 'gpt-4'"):
        load_model(endpoint=llama_server, remote_model="gpt-4")


@pytest.mark.real_model
def test_search_through_llama_cpp_server(example_project, llama_server):
    result = orps(
        "optimize",
        "slowmath.py::has_duplicates",
        "--json",
        "-K",
        "1",
        "-N",
        "2",
        "-D",
        "1",
        "--max-llm-calls",
        "4",
        "--instruction-counter",
        "none",
        "--endpoint",
        llama_server,
        "--parallel",
        "2",
        cwd=example_project,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "qwen2.5-coder-0.5b" and report["nodes"]
    assert 1 <= report["stats"]["llm_calls"] <= 4 and report["stats"]["generated_tokens"] > 0
    original = report["original"]
    assert original["total"] == 6 and original["passed"] == 6
    for node in report["nodes"]:
        assert node["code"] and (not node["valid"] or node["execution"]["total"] == 6)
    if report["best_id"] is not None:
        best = next(n for n in report["nodes"] if n["id"] == report["best_id"])
        passed = lambda execution: {t["nodeid"] for t in execution["tests"] if t["outcome"] == "passed"}  # noqa: E731
        assert passed(original) <= passed(best["execution"])  # the regression guard
    assert (result.returncode == 0) == report["improved"]


@pytest.mark.real_model
def test_server_killed_mid_search(example_project, tmp_path):
    log = tmp_path / "doomed.log"
    process, url = start_llama_cpp_server(log)
    try:
        search = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orps_lsp.cli",
                "optimize",
                "slowmath.py::has_duplicates",
                "-N",
                "2",
                "-D",
                "2",
                "--endpoint",
                url,
            ],
            cwd=example_project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Two one-token probes, then the first answer: kill the server while it writes that.
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count("POST /v1/chat/completions") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
    finally:
        stop_server(process)
    started = time.monotonic()
    _, stderr = search.communicate(timeout=120)
    assert time.monotonic() - started < 60, "the search hung after the server died"
    assert search.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("orps-lsp: error: ") and "the model server at " in last and "Traceback" not in stderr
    assert "closed the connection in the middle of an answer" in last, last
