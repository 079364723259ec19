"""The in-process backend: llama-cpp-python's `Llama` on a local GGUF file.

Prefix reuse is what makes the search affordable on a CPU: the candidates of
one node share a long prompt, and llama.cpp keeps the KV cache of the last
prompt. With `parallel` > 1 (the default through the loader) the programmer's
prompts are decoded in batches on a context of their own (model/batched.py)
and the critic's stay on this one, so neither evicts the other. Generating one
by one, the two take turns here, and a bounded RAM cache of recent states
keeps both prefixes warm.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..cancel import CancelToken
from .base import ChatRequest, Completion, Message, ModelError, chat_once
from .cpu_probe import extra_buffers_work, without_extra_buffers
from .embedded import resolve_model_path

if TYPE_CHECKING:  # both load only with a model (llama_cpp is heavy, batched needs numpy)
    from llama_cpp.llama_cache import LlamaRAMCache
    from llama_cpp.llama_types import ChatCompletionRequestMessage, CreateCompletionStreamResponse

    from .batched import BatchedDecoder


def gpu_offload_supported() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def _bounded_ram_cache(capacity_bytes: int) -> LlamaRAMCache:
    """llama-cpp-python's LlamaRAMCache, counting what its states really hold.

    It counts only the KV bytes of a saved state, but each state also keeps a copy
    of the logits buffer (n_batch x n_vocab floats: about 300 MB for Qwen's 152k
    vocabulary), so its capacity never bound it: a long-running server grew by
    gigabytes (24 GB in a benchmark run before the process was killed).
    """
    from llama_cpp.llama_cache import LlamaRAMCache

    class BoundedRAMCache(LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(s.llama_state_size + s.scores.nbytes + s.input_ids.nbytes for s in self.cache_state.values())

    return BoundedRAMCache(capacity_bytes=capacity_bytes)


class LlamaCppModel:
    """A GGUF model loaded once, used for every call (one call at a time)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        gpu_layers: int | None = None,
        cache_bytes: int = 1 << 30,
        parallel: int = 1,
    ) -> None:
        """`parallel` > 1 decodes that many candidates of a node together (see model/batched.py)."""
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:  # pragma: no cover - the dependency is required
            raise ModelError(f"llama-cpp-python is not installed: {exc}") from None

        self.path: Path = resolve_model_path(model)
        self.name = self.path.stem if model is None or os.path.sep in str(model) or str(model).endswith(".gguf") else str(model)
        self.gpu_layers = (-1 if gpu_offload_supported() else 0) if gpu_layers is None else gpu_layers
        self.n_ctx = n_ctx
        self.max_parallel = max(1, parallel)
        self._n_threads = n_threads or max(1, os.cpu_count() or 1)
        self._batched: BatchedDecoder | None = None  # made on first use: a second context on the same weights
        self._lock = threading.Lock()
        self._closed = False
        started = time.perf_counter()
        loading = contextlib.nullcontext() if extra_buffers_work(self.path) else without_extra_buffers(llama_cpp)
        try:
            with loading:
                self._llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=self._n_threads,
                    n_gpu_layers=self.gpu_layers,
                    verbose=False,
                )
        except Exception as exc:  # llama.cpp says only "Failed to load model from file"
            raise ModelError(
                f"could not load the model {self.path}: {exc} (is the file a complete GGUF? "
                "a truncated or corrupt file fails like this)"
            ) from None
        self.load_seconds = time.perf_counter() - started
        if self.max_parallel == 1:
            # One by one, the programmer's and the critic's prompts take turns on this context: a RAM
            # cache of recent states keeps both prefixes warm. With batches the programmer's prompts
            # live on the batch context, the critic's stay here, and no cache is needed.
            self._llm.set_cache(_bounded_ram_cache(cache_bytes))
        metadata = self._llm.metadata
        template = metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{self.path} has no chat template in its metadata; use an instruct model")
        vocab = self._llm._model
        eos = vocab.token_get_text(self._llm.token_eos())
        bos_id = self._llm.token_bos()
        bos = vocab.token_get_text(bos_id) if bos_id >= 0 else ""
        self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._eos_text = eos
        self._count_prompt_evaluation()

    def _count_prompt_evaluation(self) -> None:
        """Count the prompt tokens llama.cpp really evaluates (after prefix reuse).

        `Llama.generate` calls `eval` once with the part of the prompt that is not
        in the KV cache, then once per sampled token; we record the first call.
        """
        original_eval = self._llm.eval
        self._evaluated: list[int] = []

        def counting_eval(tokens: Sequence[int]) -> None:
            self._evaluated.append(len(tokens))
            original_eval(tokens)

        # Llama has no hook for this: the instance's own method is wrapped (setattr: mypy
        # rightly refuses to assign to a method, and this one instance is what is meant).
        setattr(self._llm, "eval", counting_eval)

    def render(self, messages: list[Message], prefill: str = "") -> str:
        # Plain role/content dicts are what the template reads; llama_cpp's types tell the roles apart.
        return self._format(messages=cast("list[ChatCompletionRequestMessage]", messages)).prompt + prefill

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _prompt(self, messages: list[Message], prefill: str) -> tuple[list[int], int]:
        """The prompt's tokens and the room left for the answer; a prompt that does not fit is an error."""
        if self._closed:  # tokenizing needs the model: a closed one would crash the process
            raise ModelError("the model was closed (the settings changed); run the search again")
        prompt = self.tokenize(self.render(messages, prefill))
        room = self.n_ctx - len(prompt)
        if room < 16:
            raise ModelError(
                f"the prompt ({len(prompt)} tokens) does not fit the context window ({self.n_ctx} tokens); "
                "raise the context size setting or shorten the tests shown"
            )
        return prompt, room

    def chat_many(self, requests: list[ChatRequest], *, cancel: CancelToken | None = None) -> list[Completion]:
        """The requests decoded together (one llama.cpp batch); one by one when they do not fit."""
        from .batched import BatchedDecoder, SequenceRequest

        prompts = [self._prompt(r.messages, r.prefill) for r in requests]
        sequences = [
            SequenceRequest(
                tokens=tokens,
                max_tokens=min(r.max_tokens, room),
                temperature=r.temperature,
                seed=r.seed,
                stop=[self._eos_text] + list(r.stop or []),
            )
            for r, (tokens, room) in zip(requests, prompts)
        ]
        with self._lock:
            if self._closed:
                raise ModelError("the model was closed (the settings changed); run the search again")
            if cancel is not None:
                cancel.raise_if_cancelled()
            results = None
            if len(requests) > 1:
                if self._batched is None:
                    self._batched = BatchedDecoder(
                        self._llm, n_seq=self.max_parallel, n_ctx=self.n_ctx, n_threads=self._n_threads
                    )
                if self._batched.fits(sequences):
                    results = self._batched.generate(sequences, cancel)
        if results is None:
            return [chat_once(self, r, cancel) for r in requests]
        if cancel is not None:
            cancel.raise_if_cancelled()
        return [
            Completion(
                text=res.text,
                prompt_tokens=len(seq.tokens),
                prompt_tokens_evaluated=res.prompt_tokens_evaluated,
                completion_tokens=res.completion_tokens,
                prompt_seconds=res.prompt_seconds / len(results),
                generation_seconds=res.generation_seconds / len(results),
                finish_reason=res.finish_reason,
            )
            for res, seq in zip(results, sequences)
        ]

    def chat(
        self,
        messages: list[Message],
        *,
        prefill: str = "",
        max_tokens: int = 512,
        temperature: float = 0.7,
        seed: int = 0,
        stop: list[str] | None = None,
        cancel: CancelToken | None = None,
    ) -> Completion:
        prompt, room = self._prompt(messages, prefill)
        with self._lock:
            if self._closed:
                raise ModelError("the model was closed (the settings changed); run the search again")
            if cancel is not None:
                cancel.raise_if_cancelled()
            self._evaluated.clear()
            started = time.perf_counter()
            first_token_at = None
            pieces: list[str] = []
            finish = "length"
            count = 0
            # With stream=True the answer is a generator of chunks (llama_cpp annotates both modes as one).
            stream = cast(
                "Generator[CreateCompletionStreamResponse, None, None]",
                self._llm.create_completion(
                    prompt=prompt,
                    max_tokens=min(max_tokens, room),
                    temperature=temperature,
                    seed=seed,
                    stop=[self._eos_text] + list(stop or []),
                    stream=True,
                ),
            )
            try:
                for chunk in stream:
                    if first_token_at is None:
                        first_token_at = time.perf_counter()
                    choice = chunk["choices"][0]
                    pieces.append(choice["text"])
                    reason = choice.get("finish_reason")
                    if reason:
                        finish = reason
                        if not choice["text"]:
                            continue  # the closing chunk carries no token
                    count += 1
                    if cancel is not None and cancel.cancelled:
                        finish = "cancelled"
                        break
            finally:
                stream.close()  # stops generation at once when we broke out early
                # Each call leaves llama-cpp-python's sampler buffers (n_vocab x 12 bytes, ~1.8 MB for
                # Qwen) in a reference cycle; the cyclic GC counts objects, not bytes, so without this a
                # long-running server grows by megabytes per call.
                gc.collect()
            ended = time.perf_counter()
            evaluated = self._evaluated[0] if self._evaluated else 0
        if finish == "cancelled" and cancel is not None:  # only a cancel sets it
            cancel.raise_if_cancelled()
        first_token_at = first_token_at or ended
        return Completion(
            text="".join(pieces),
            prompt_tokens=len(prompt),
            prompt_tokens_evaluated=evaluated,
            completion_tokens=count,
            prompt_seconds=first_token_at - started,
            generation_seconds=ended - first_token_at,
            finish_reason=finish,
        )

    def close(self) -> None:
        """Free the model's memory now (waits for a call in progress); the model cannot be used after."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._llm.set_cache(None)  # the saved prompt states: up to cache_bytes
                if self._batched is not None:
                    self._batched.close()
                self._llm.close()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "llama-cpp-python (in process)",
            "model": self.name,
            "path": str(self.path),
            "gpu_offload_supported": gpu_offload_supported(),
            "gpu_layers": self.gpu_layers,
            "context": self.n_ctx,
            "parallel": self.max_parallel,
            "load_seconds": round(self.load_seconds, 2),
        }
