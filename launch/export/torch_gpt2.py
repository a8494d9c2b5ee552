"""Loads a `ringformer export` of a gpt model into a small PyTorch GPT-2 and runs it.

    /usr/bin/python3 launch/export/torch_gpt2.py runs/export/model.safetensors --text "ROMEO:" --tokens 100
    /usr/bin/python3 launch/export/torch_gpt2.py runs/export/model.safetensors --text "ROMEO:" --logits out.f32

The weights carry Hugging Face GPT2LMHeadModel's names and layout (Conv1D weights [in, out]), so with the
`transformers` package the same directory also loads as GPT2LMHeadModel.from_pretrained(directory). This file
needs only torch (Debian python3-torch): it parses safetensors itself and is the model in forty lines.
"""
import argparse, json, math, os, struct
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        begin, end = info["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(info["shape"])
    return tensors


class Gpt2:
    """GPT-2's forward pass over the exported tensors: x [T] token ids -> logits [T, V]."""

    def __init__(self, weights, config):
        self.w, self.c = weights, config
        self.head = weights.get("lm_head.weight", weights["transformer.wte.weight"])        # [V, d]

    def layer_norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                            self.c["layer_norm_epsilon"])

    def linear(self, x, name):                                                            # Conv1D: x @ W + b
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def __call__(self, tokens):
        t, h, d = len(tokens), self.c["n_head"], self.c["n_embd"]
        x = self.w["transformer.wte.weight"][tokens] + self.w["transformer.wpe.weight"][:t]  # [T, d]
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        for i in range(self.c["n_layer"]):
            p = f"transformer.h.{i}."
            q, k, v = self.linear(self.layer_norm(x, p + "ln_1"), p + "attn.c_attn").split(d, dim=1)  # [T, d] each
            q, k, v = (a.view(t, h, d // h).transpose(0, 1) for a in (q, k, v))           # [H, T, dh]
            scores = (q @ k.transpose(1, 2) / math.sqrt(d // h)).masked_fill(~causal, float("-inf"))  # [H, T, T]
            y = (scores.softmax(-1) @ v).transpose(0, 1).reshape(t, d)                      # [T, d]
            x = x + self.linear(y, p + "attn.c_proj")
            m = F.gelu(self.linear(self.layer_norm(x, p + "ln_2"), p + "mlp.c_fc"))        # exact GELU, [T, 4d]
            x = x + self.linear(m, p + "mlp.c_proj")
        return self.layer_norm(x, "transformer.ln_f") @ self.head.T                         # [T, V]


def load(weights_path):
    directory = os.path.dirname(os.path.abspath(weights_path))
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "tokenizer.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0] == "ringformer-char-tokenizer 1", lines[0]
    itos = [chr(int(line)) for line in lines[1:] if line.strip()]
    return Gpt2(load_safetensors(weights_path), config), itos


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("weights")
    p.add_argument("--text", required=True)
    p.add_argument("--tokens", type=int, default=0, help="characters to continue greedily")
    p.add_argument("--logits", help="write the logits of --text, [T, V] little-endian float32, to this file")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, itos = load(a.weights)
    stoi = {ch: i for i, ch in enumerate(itos)}
    tokens = [stoi[ch] for ch in a.text]
    with torch.no_grad():
        if a.logits:
            model(torch.tensor(tokens)).contiguous().numpy().astype("<f4").tofile(a.logits)
        for _ in range(a.tokens):
            window = torch.tensor(tokens[-model.c["n_positions"]:])
            tokens.append(int(model(window)[-1].argmax()))
    print("".join(itos[i] for i in tokens))
