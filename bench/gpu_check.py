"""GPU check: is llama-cpp-python built with CUDA/Metal, does orps-lsp offload every layer by default, and
do the single and the batched generation paths work there. Prints JSON: tokens/s, and 4 candidates
decoded in one batch vs one by one, with 0 layers and with every layer offloaded.

    python -m bench.gpu_check MODEL.gguf
"""

import json
import sys
import time
import llama_cpp
from orps_lsp.model.llama import LlamaCppModel, gpu_offload_supported
from orps_lsp.model.base import ChatRequest

out = {"llama_cpp": llama_cpp.__version__, "gpu_offload_supported": gpu_offload_supported()}
model_path = sys.argv[1]
msgs = [{"role": "user", "content": "Write a Python function that adds two numbers." * 20}]
for layers in [0, -1] if out["gpu_offload_supported"] else [0]:
    m = LlamaCppModel(model_path, gpu_layers=layers, parallel=4, n_ctx=4096)
    t = time.perf_counter()
    c = m.chat(msgs, max_tokens=256, temperature=0.0, stop=[])
    single = time.perf_counter() - t
    reqs = [
        ChatRequest(msgs + [{"role": "user", "content": f"variant {i}"}], max_tokens=256, temperature=0.7, seed=i, stop=[])
        for i in range(4)
    ]
    m.chat_many(reqs)
    t = time.perf_counter()
    many = m.chat_many(reqs)
    batched = time.perf_counter() - t
    t = time.perf_counter()
    seq = [m.chat(r.messages, max_tokens=256, temperature=0.7, seed=r.seed, stop=[]) for r in reqs]
    sequential = time.perf_counter() - t
    out[f"gpu_layers={layers}"] = {
        "describe": m.describe(),
        "single_tok_s": round(c.completion_tokens / c.generation_seconds, 1),
        "batched4_s": round(batched, 3),
        "sequential4_s": round(sequential, 3),
        "batched_tokens": [x.completion_tokens for x in many],
        "sequential_tokens": [x.completion_tokens for x in seq],
    }
    m.close()
print(json.dumps(out, indent=1))
