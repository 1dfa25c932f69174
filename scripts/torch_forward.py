"""PyTorch's side of scripts/bench_torch.ts: the seed architecture's forward pass, timed.

A long-lived worker: it reads one JSON request per line on stdin and answers with one JSON line
on stdout, so the benchmark can interleave its runs with flopledger's, run for run.

  {"op": "setup", "config": {...}, "batch": B, "seq": T}
      builds the model (RMSNorm, causal multi-head attention with RoPE, SwiGLU, untied lm_head,
      weights stored [d_in, d_out] as flopledger stores them) and answers its forward matmul
      FLOPs, counted here by every matmul as it runs: an independent count of the same work.
  {"op": "forward", "runs": n}
      n forward passes under inference_mode; answers their wall times in ms.
  {"op": "matmul", "m": m, "k": k, "n": n, "runs": r}
      a bare fp32 [m, k] x [k, n] product, r times; answers the wall times in ms.

Debian's torch calls the libblas.so.3 alternative, which is the slow reference BLAS unless
libopenblas0-pthread is installed (about 1 GFLOP/s against about 100 here): the setup answer
names the library loaded, and the benchmark refuses to compare against the reference one.

The thread count is set by the parent through the environment (OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS, read when the libraries load) and by torch.set_num_threads here.
"""

import json
import math
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
torch.set_num_interop_threads(1)
torch.manual_seed(0)


def blas_library():
    """The BLAS library this process loaded (Debian's torch links the libblas.so.3 alternative)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() or "mkl" in line.lower()}
    real = sorted({os.path.realpath(path) for path in paths if path.startswith("/")})
    return ", ".join(real) if real else "none found"


class MatmulCounter:
    """Counts 2 m k n FLOPs for every product it computes while counting is on."""

    def __init__(self):
        self.counting = False
        self.flops = 0

    def mm(self, a, b):
        if self.counting:
            batch = math.prod(a.shape[:-2]) if a.dim() > 2 else 1
            m, k = a.shape[-2], a.shape[-1]
            n = b.shape[-1]
            self.flops += 2 * batch * m * k * n
        return torch.matmul(a, b)


class SeedTransformer:
    def __init__(self, config, counter):
        self.d = config["d_model"]
        self.heads = config["num_heads"]
        self.head_dim = self.d // self.heads
        self.vocab = config["vocab_size"]
        self.layers = config["num_layers"]
        self.d_ff = config["d_ff"]
        self.mm = counter.mm

        def weight(*shape):
            return torch.randn(*shape) * 0.02

        d, f = self.d, self.d_ff
        self.embedding = weight(self.vocab, d)
        self.blocks = [
            {
                "norm1": torch.ones(d),
                "wq": weight(d, d),
                "wk": weight(d, d),
                "wv": weight(d, d),
                "wo": weight(d, d),
                "norm2": torch.ones(d),
                "w1": weight(d, f),
                "w3": weight(d, f),
                "w2": weight(f, d),
            }
            for _ in range(self.layers)
        ]
        self.final_norm = torch.ones(d)
        self.lm_head = weight(d, self.vocab)

    def rms_norm(self, x, gain):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * gain

    def rope_tables(self, seq):
        half = self.head_dim // 2
        inverse = 1.0 / (10000.0 ** (torch.arange(half, dtype=torch.float32) / half))
        angles = torch.outer(torch.arange(seq, dtype=torch.float32), inverse)
        return torch.cos(angles), torch.sin(angles)

    def rope(self, x, cos, sin):
        first, second = x[..., 0::2], x[..., 1::2]
        rotated = torch.stack((first * cos - second * sin, first * sin + second * cos), dim=-1)
        return rotated.flatten(-2)

    def forward(self, ids):
        batch, seq = ids.shape
        H, dh, d = self.heads, self.head_dim, self.d
        x = self.embedding[ids]  # (B, T, d)
        cos, sin = self.rope_tables(seq)
        mask = torch.full((seq, seq), float("-inf")).triu(1)
        for block in self.blocks:
            h = self.rms_norm(x, block["norm1"])
            split = lambda t: t.view(batch, seq, H, dh).transpose(1, 2)  # (B, H, T, dh)
            q = self.rope(split(self.mm(h, block["wq"])), cos, sin)
            k = self.rope(split(self.mm(h, block["wk"])), cos, sin)
            v = split(self.mm(h, block["wv"]))
            scores = self.mm(q, k.transpose(-1, -2)) / math.sqrt(dh) + mask  # (B, H, T, T)
            attended = self.mm(torch.softmax(scores, dim=-1), v)  # (B, H, T, dh)
            x = x + self.mm(attended.transpose(1, 2).reshape(batch, seq, d), block["wo"])
            h = self.rms_norm(x, block["norm2"])
            gated = torch.nn.functional.silu(self.mm(h, block["w1"])) * self.mm(h, block["w3"])
            x = x + self.mm(gated, block["w2"])
        return self.mm(self.rms_norm(x, self.final_norm), self.lm_head)  # (B, T, V)


def main():
    counter = MatmulCounter()
    model = None
    ids = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "setup":
            model = SeedTransformer(request["config"], counter)
            ids = torch.randint(0, model.vocab, (request["batch"], request["seq"]))
            counter.flops = 0
            counter.counting = True
            with torch.inference_mode():
                model.forward(ids)
            counter.counting = False
            answer = {
                "matmul_flops": str(counter.flops),
                "torch": torch.__version__,
                "blas": blas_library(),
            }
        elif op == "forward":
            times = []
            with torch.inference_mode():
                for _ in range(request["runs"]):
                    start = time.perf_counter()
                    model.forward(ids)
                    times.append((time.perf_counter() - start) * 1000)
            answer = {"ms": times}
        elif op == "matmul":
            a = torch.full((request["m"], request["k"]), 0.01)
            b = torch.full((request["k"], request["n"]), 0.01)
            times = []
            with torch.inference_mode():
                torch.mm(a, b)
                for _ in range(request["runs"]):
                    start = time.perf_counter()
                    torch.mm(a, b)
                    times.append((time.perf_counter() - start) * 1000)
            answer = {"ms": times}
        else:
            answer = {"error": f"unknown op {op}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
