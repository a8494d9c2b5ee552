"""nanoGPT's model and training step in PyTorch, the comparison for `ringformer bench train`.

Same shapes as configs/gpt-char.yaml (4 layers, 4 heads, width 128, block 64, batch 12, vocab 65 by default),
a full step each time: forward, backward, global-norm clip, AdamW. Strictly one thread:

    apt-get install python3-torch libopenblas0-openmp
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 launch/bench/torch_gpt.py

Debian's torch takes its fp32 GEMMs from the system libblas.so.3: without OpenBLAS installed that is the
reference BLAS (~3 GFLOP/s, over 1 s a step), so install it for a fair comparison.

Prints the median step time for fp32 eager and for CPU bf16 autocast, measured in alternating rounds.

With --train FILE it trains instead, with ringformer's gpt-char recipe, and prints the val loss: a character
vocabulary, the first 90% of the text for training and the rest for val, random windows, AdamW (betas 0.9/0.99,
decay 0.1), cosine rate 1e-3 → 1e-4 after 100 warm-up iterations, global-norm clipping at 1.0, and 200 val batches
at the end. The recipe's three choices can be flipped one at a time, for ablations:

    --untied          a separate LM head instead of the one tied to the token embedding
    --init torch      PyTorch's default initialisation instead of GPT-2's (N(0, 0.02), residual projections
                      scaled by 1/sqrt(2 layers), zero biases)
    --decay all       weight decay on every parameter instead of on matrices other than wpe
"""
import argparse, math, statistics, time
import torch
import torch.nn as nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = F.softmax(att.masked_fill(mask[:, :, :t, :t] == 0, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        x = x + self.out(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, block, layers, heads, d, tied=True, init="gpt2"):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        if tied:
            self.head.weight = self.wte.weight
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, 1, block, block))
        if init == "gpt2":
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    nn.init.zeros_(p)
                elif p.dim() == 2:
                    residual = name.endswith("out.weight") or name.endswith("proj.weight")
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if residual else 0.02)

    def forward(self, idx, targets):
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for block in self.blocks:
            x = block(x, self.mask)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def train(a):
    text = open(a.train, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(len(ids) * 0.9)
    splits = {"train": ids[:cut], "val": ids[cut:]}
    torch.manual_seed(a.seed)
    model = Gpt(len(chars), a.block, a.layers, a.heads, a.width, tied=not a.untied, init=a.init)
    matrices = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("wpe")]
    others = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith("wpe"))]
    groups = ([{"params": list(model.parameters()), "weight_decay": 0.1}] if a.decay == "all" else
              [{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}])
    optim = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))
    generator = torch.Generator().manual_seed(a.seed)

    def batch(split, g):
        data = splits[split]
        starts = torch.randint(len(data) - a.block - 1, (a.batch,), generator=g)
        x = torch.stack([data[i:i + a.block] for i in starts])
        return x, torch.stack([data[i + 1:i + 1 + a.block] for i in starts])

    def rate(it):
        if it < 100:
            return 1e-3 * (it + 1) / 100
        ratio = min(1.0, (it - 100) / (a.iters - 100))
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)

    start = time.perf_counter()
    for it in range(a.iters):
        for group in optim.param_groups:
            group["lr"] = rate(it)
        x, y = batch("train", generator)
        loss = model(x, y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(4242)
        val = statistics.mean(model(*batch("val", g)).item() for _ in range(200))
    print(f"tied={not a.untied} init={a.init} decay={a.decay} seed={a.seed}: val {val:.4f} after {a.iters} "
          f"iterations, {seconds:.0f} s of training")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--block", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--steps", type=int, default=50, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5, help="alternate the variants this many times")
    p.add_argument("--train", metavar="FILE", help="train on FILE with the gpt-char recipe and print the val loss")
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--untied", action="store_true")
    p.add_argument("--init", choices=["gpt2", "torch"], default="gpt2")
    p.add_argument("--decay", choices=["matrices", "all"], default="matrices")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.train:
        return train(a)
    torch.manual_seed(1337)
    model = Gpt(a.vocab, a.block, a.layers, a.heads, a.width)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    x = torch.randint(a.vocab, (a.batch, a.block))
    y = torch.randint(a.vocab, (a.batch, a.block))

    def step(bf16):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x, y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        return (time.perf_counter() - start) * 1000

    variants = {"pytorch fp32 eager": False, "pytorch bf16 autocast": True}
    for bf16 in variants.values():
        for _ in range(a.warmup):
            step(bf16)
    times = {name: [] for name in variants}
    per_round = max(1, a.steps // a.rounds)
    for _ in range(a.rounds):
        for name, bf16 in variants.items():
            times[name].extend(step(bf16) for _ in range(per_round))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    base = statistics.median(times["pytorch fp32 eager"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:24s} median {median:7.1f} ms  ({base / median:.2f}x fp32 eager, {len(values)} steps)")


if __name__ == "__main__":
    main()
