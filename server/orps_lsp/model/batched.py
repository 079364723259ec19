"""Several completions decoded together through llama.cpp's multi-sequence batch.

The N children of a node share a long prompt and differ in a short tail. On a
CPU, decoding one token for four sequences costs little more than for one
(the weights are read once per step), so generating the four together is much
faster than one after another. The shared prefix is evaluated once and copied
to the other sequences inside the KV cache; it also stays there for the next
call, like the single-sequence path's prefix reuse.

This runs on its own llama.cpp context (sharing the loaded weights), so the
single-sequence context and its prompt cache are left as they are.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..cancel import CancelToken

if TYPE_CHECKING:  # llama_cpp is imported when a decoder is made, like the model it decodes for
    from llama_cpp import Llama

TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05  # llama-cpp-python's create_completion defaults


@dataclass
class SequenceRequest:
    tokens: list[int]
    max_tokens: int
    temperature: float
    seed: int
    stop: list[str]


@dataclass
class SequenceResult:
    text: str
    completion_tokens: int
    prompt_tokens_evaluated: int
    finish_reason: str
    prompt_seconds: float
    generation_seconds: float


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Top-k, then min-p and top-p, at the temperature (greedy at 0): llama.cpp's default chain."""
    if temperature <= 0:
        return int(np.argmax(logits))
    top = np.argpartition(logits, -TOP_K)[-TOP_K:]
    top = top[np.argsort(logits[top])[::-1]]
    scaled = logits[top].astype(np.float64) / temperature
    probs = np.exp(scaled - scaled[0])
    probs /= probs.sum()
    keep = probs >= MIN_P * probs[0]
    cumulative = np.cumsum(probs)
    keep &= np.concatenate(([True], cumulative[:-1] < TOP_P))
    top, probs = top[keep], probs[keep]
    return int(rng.choice(top, p=probs / probs.sum()))


class BatchedDecoder:
    """Decodes up to `n_seq` sequences at once on a context of its own."""

    def __init__(self, llm: Llama, *, n_seq: int, n_ctx: int, n_threads: int, n_batch: int = 512) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaContext

        self._l = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.kv_unified = True  # one cache for all sequences: the shared prefix is stored once
        params.n_threads = params.n_threads_batch = n_threads
        self._context = LlamaContext(model=llm._model, params=params, verbose=False)
        self._ctx = self._context.ctx
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_seq, self.n_ctx, self.n_batch = n_seq, n_ctx, n_batch
        self._batch = llama_cpp.llama_batch_init(max(n_batch, n_seq), 0, n_seq)
        self._cached: list[int] = []  # the prefix kept in sequence 0 since the last call
        self._piece = ctypes.create_string_buffer(256)

    def fits(self, requests: list[SequenceRequest]) -> bool:
        shared = self._shared_length(requests)
        need = shared + sum(len(r.tokens) - shared + r.max_tokens for r in requests)
        return len(requests) <= self.n_seq and need <= self.n_ctx

    @staticmethod
    def _shared_length(requests: list[SequenceRequest]) -> int:
        shared = min(len(r.tokens) for r in requests) - 1  # every sequence decodes at least one token of its own
        for r in requests[1:]:
            shared = min(shared, common_prefix(requests[0].tokens, r.tokens))
        return max(0, shared)

    # ------------------------------------------------------------ low level
    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """entries: (token, position, sequence, wants_logits); at most n_batch of them."""
        batch = self._batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        status = self._l.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed ({status}): the batch does not fit the context")

    def _logits(self, index: int) -> np.ndarray:
        pointer = self._l.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()

    def _piece_bytes(self, token: int) -> bytes:
        n = self._l.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, True)
        return self._piece.raw[:n] if n > 0 else b""

    def _reset_for(self, prefix: list[int]) -> int:
        """Keep what sequence 0 already holds of `prefix`, drop the rest and the other sequences."""
        keep = common_prefix(self._cached, prefix)
        if keep < len(self._cached):
            self._l.llama_memory_seq_rm(self._memory, 0, keep, -1)
        for seq in range(1, self.n_seq):
            self._l.llama_memory_seq_rm(self._memory, seq, -1, -1)
        self._cached = prefix[:keep]
        return keep

    # ----------------------------------------------------------------- main
    def generate(self, requests: list[SequenceRequest], cancel: CancelToken | None = None) -> list[SequenceResult]:
        started = time.perf_counter()
        shared = self._shared_length(requests)
        prefix = requests[0].tokens[:shared]
        keep = self._reset_for(prefix)
        try:
            for start in range(keep, shared, self.n_batch):  # the shared prefix, once, in sequence 0
                self._decode([(prefix[p], p, 0, False) for p in range(start, min(shared, start + self.n_batch))])
            self._cached = list(prefix)
            for seq in range(1, len(requests)):
                self._l.llama_memory_seq_cp(self._memory, 0, seq, -1, -1)
            # Each sequence's own tail; the logits of its last token start its generation.
            tails = [
                (r.tokens[p], p, seq, p == len(r.tokens) - 1)
                for seq, r in enumerate(requests)
                for p in range(shared, len(r.tokens))
            ]
            logits: dict[int, np.ndarray] = {}
            for start in range(0, len(tails), self.n_batch):
                chunk = tails[start : start + self.n_batch]
                self._decode(chunk)
                for index, (_, _, seq, wants) in enumerate(chunk):
                    if wants:
                        logits[seq] = self._logits(index)
        except BaseException:
            self._cached = []  # the cache's state is unknown: start clean next time
            raise
        prompt_done = time.perf_counter()
        rngs = [np.random.default_rng(r.seed) for r in requests]
        out = [bytearray() for _ in requests]
        counts = [0] * len(requests)
        finish = [""] * len(requests)
        texts = [""] * len(requests)
        positions = [len(r.tokens) for r in requests]
        active = list(range(len(requests)))
        try:
            while active:
                if cancel is not None and cancel.cancelled:
                    for seq in active:
                        finish[seq] = "cancelled"
                    break
                step = []
                for seq in list(active):
                    r = requests[seq]
                    token = sample(logits[seq], r.temperature, rngs[seq])
                    if self._l.llama_vocab_is_eog(self._vocab, token):
                        finish[seq] = "stop"
                        active.remove(seq)
                        continue
                    counts[seq] += 1
                    out[seq] += self._piece_bytes(token)
                    texts[seq] = out[seq].decode("utf-8", errors="ignore")
                    hit = _first_stop(texts[seq], r.stop)
                    if hit is not None:
                        texts[seq], finish[seq] = texts[seq][:hit], "stop"
                        active.remove(seq)
                    elif counts[seq] >= r.max_tokens:
                        finish[seq] = "length"
                        active.remove(seq)
                    else:
                        step.append((token, positions[seq], seq, True))
                        positions[seq] += 1
                if not step:
                    break
                self._decode(step)
                for index, (_, _, seq, _) in enumerate(step):
                    logits[seq] = self._logits(index)
        finally:
            for seq in range(1, len(requests)):  # sequence 0 keeps the shared prefix for next time
                self._l.llama_memory_seq_rm(self._memory, seq, -1, -1)
            self._l.llama_memory_seq_rm(self._memory, 0, shared, -1)
        ended = time.perf_counter()
        return [
            SequenceResult(
                text=texts[i],
                completion_tokens=counts[i],
                # The shared part is counted once, on the first sequence.
                prompt_tokens_evaluated=(shared - keep if i == 0 else 0) + len(r.tokens) - shared,
                finish_reason=finish[i] or "stop",
                prompt_seconds=prompt_done - started,
                generation_seconds=ended - prompt_done,
            )
            for i, r in enumerate(requests)
        ]

    def close(self) -> None:
        if self._batch is not None:
            self._l.llama_batch_free(self._batch)
            self._batch = None
        self._context.close()  # type: ignore[no-untyped-call]  # llama_cpp's LlamaContext.close has no annotations


def _first_stop(text: str, stops: list[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None
