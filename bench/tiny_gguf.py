"""A tiny Qwen2-architecture GGUF with random weights and the embedded model's tokenizer and chat template.

For checks of the machinery where the real model cannot travel (a GPU machine reached with 64 MiB).
It needs the `gguf` package (llama.cpp's gguf-py, on PyPI), which orps-lsp does not install:
    .venv/bin/python -m pip install gguf
    python -m bench.tiny_gguf tiny.gguf
    python -m bench.gpu_check tiny.gguf
"""

import sys

import numpy as np
import gguf
from orps_lsp.model.embedded import ensure_embedded

src = gguf.GGUFReader(str(ensure_embedded()))


def field(name):
    f = src.fields[name]
    return f


def value(name):
    f = src.fields[name]
    return f.contents()


w = gguf.GGUFWriter(sys.argv[1], "qwen2")
E, L, FF, H, KV = 64, 2, 128, 4, 2
w.add_context_length(4096)
w.add_embedding_length(E)
w.add_block_count(L)
w.add_feed_forward_length(FF)
w.add_head_count(H)
w.add_head_count_kv(KV)
w.add_layer_norm_rms_eps(1e-6)
w.add_rope_freq_base(1000000.0)
w.add_name("tiny-random-qwen2")
w.add_tokenizer_model(value("tokenizer.ggml.model"))
w.add_tokenizer_pre(value("tokenizer.ggml.pre"))
tokens = value("tokenizer.ggml.tokens")
w.add_token_list(tokens)
w.add_token_types(value("tokenizer.ggml.token_type"))
w.add_token_merges(value("tokenizer.ggml.merges"))
for key, fn in [
    ("tokenizer.ggml.eos_token_id", w.add_eos_token_id),
    ("tokenizer.ggml.padding_token_id", w.add_pad_token_id),
    ("tokenizer.ggml.bos_token_id", w.add_bos_token_id),
]:
    if key in src.fields:
        fn(value(key))
if "tokenizer.ggml.add_bos_token" in src.fields:
    w.add_add_bos_token(value("tokenizer.ggml.add_bos_token"))
w.add_chat_template(value("tokenizer.chat_template"))
V = len(tokens)
rng = np.random.default_rng(0)


def r(*shape):
    return (rng.standard_normal(shape) * 0.02).astype(np.float32)


w.add_tensor("token_embd.weight", r(V, E).astype(np.float16))
w.add_tensor("output_norm.weight", np.ones(E, np.float32))
hd = E // H
for i in range(L):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", np.ones(E, np.float32))
    w.add_tensor(p + "attn_q.weight", r(E, E))
    w.add_tensor(p + "attn_q.bias", r(E))
    w.add_tensor(p + "attn_k.weight", r(KV * hd, E))
    w.add_tensor(p + "attn_k.bias", r(KV * hd))
    w.add_tensor(p + "attn_v.weight", r(KV * hd, E))
    w.add_tensor(p + "attn_v.bias", r(KV * hd))
    w.add_tensor(p + "attn_output.weight", r(E, E))
    w.add_tensor(p + "ffn_norm.weight", np.ones(E, np.float32))
    w.add_tensor(p + "ffn_gate.weight", r(FF, E))
    w.add_tensor(p + "ffn_up.weight", r(FF, E))
    w.add_tensor(p + "ffn_down.weight", r(E, FF))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("ok", V)
