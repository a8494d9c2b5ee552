"""Loads a `ringformer export` of a bert model into a small PyTorch pre-LayerNorm BERT and runs it.

    /usr/bin/python3 launch/export/torch_bert.py runs/export/model.safetensors --ids 2,301,45,4,17,3
    /usr/bin/python3 launch/export/torch_bert.py runs/export/model.safetensors --ids 2,301,45,4,17,3 \
        --logits mlm.f32 --nsp-logits nsp.f32

--ids is one row of WordPiece ids ([CLS]=2 ... [SEP]=3; [MASK]=4) from the tokenizer.json beside the weights
(this file has no tokenizer: the Hugging Face `tokenizers` package reads that file). The row is padded to the
model's length with [PAD]=0, which attention masks out; segments are all 0 unless --segments gives them.

The tensors carry Hugging Face BERT's names (Megatron-BERT's for the pre-LN LayerNorms) and PyTorch's layout
(nn.Linear weights [out, in]), but ringformer's BERT is pre-LayerNorm with a LayerNorm after the embeddings:
BertForPreTraining (post-LN) and MegatronBertForPreTraining (no embedding LayerNorm) would each compute something
else, so this file is the model. It needs only torch (Debian python3-torch).
"""
import argparse, json, math, os
import torch
import torch.nn.functional as F
from torch_gpt2 import load_safetensors


class PreLnBert:
    """The forward pass over the exported tensors: ids, segments, keep [T] -> MLM logits [T, V], NSP logits [2]."""

    def __init__(self, weights, config):
        self.w, self.c = weights, config

    def layer_norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                            self.c["layer_norm_eps"])

    def linear(self, x, name):                                                            # nn.Linear: x @ Wᵀ + b
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def __call__(self, ids, segments, keep):
        t, h, d = len(ids), self.c["num_attention_heads"], self.c["hidden_size"]
        e = "bert.embeddings."
        x = (self.w[e + "word_embeddings.weight"][ids] + self.w[e + "token_type_embeddings.weight"][segments]
             + self.w[e + "position_embeddings.weight"][:t])                               # [T, d]
        x = self.layer_norm(x, e + "LayerNorm")
        padding = (1.0 - keep) * -1e9                                                      # [T]: on keys
        for i in range(self.c["num_hidden_layers"]):
            p = f"bert.encoder.layer.{i}."
            a = self.layer_norm(x, p + "attention.ln")                                     # pre-LN
            q, k, v = (self.linear(a, p + "attention.self." + n).view(t, h, d // h).transpose(0, 1)
                       for n in ("query", "key", "value"))                                 # [H, T, dh] each
            scores = q @ k.transpose(1, 2) / math.sqrt(d // h) + padding                   # [H, T, T]
            y = (scores.softmax(-1) @ v).transpose(0, 1).reshape(t, d)                      # [T, d]
            x = x + self.linear(y, p + "attention.output.dense")
            m = F.gelu(self.linear(self.layer_norm(x, p + "ln"), p + "intermediate.dense"))  # exact GELU, [T, 4d]
            x = x + self.linear(m, p + "output.dense")
        x = self.layer_norm(x, "bert.encoder.ln")                                          # [T, d]
        m = self.layer_norm(F.gelu(self.linear(x, "cls.predictions.transform.dense")),
                            "cls.predictions.transform.LayerNorm")                         # [T, d]
        mlm = m @ self.w[e + "word_embeddings.weight"].T + self.w["cls.predictions.bias"]   # tied decoder, [T, V]
        pooled = torch.tanh(self.linear(x[0], "bert.pooler.dense"))                        # [CLS], [d]
        return mlm, self.linear(pooled, "cls.seq_relationship")                            # [T, V], [2]


def load(weights_path):
    directory = os.path.dirname(os.path.abspath(weights_path))
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    itos = {i: token for token, i in vocab.items()}
    return PreLnBert(load_safetensors(weights_path), config), itos


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("weights")
    p.add_argument("--ids", required=True, help="comma-separated WordPiece ids of one row, [CLS] ... [SEP]")
    p.add_argument("--segments", help="comma-separated segment ids (0 or 1) of the same row; default all 0")
    p.add_argument("--logits", help="write the MLM logits at every position, [T, V] little-endian float32")
    p.add_argument("--nsp-logits", help="write the next-sentence logits, [2] little-endian float32")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, itos = load(a.weights)
    ids = [int(i) for i in a.ids.split(",")]
    segments = [int(s) for s in a.segments.split(",")] if a.segments else [0] * len(ids)
    length = model.c["max_position_embeddings"]
    assert len(ids) == len(segments) <= length, f"{len(ids)} ids, {len(segments)} segments, length {length}"
    pad = length - len(ids)
    keep = torch.tensor([1.0] * len(ids) + [0.0] * pad)
    with torch.no_grad():
        mlm, nsp = model(torch.tensor(ids + [model.c["pad_token_id"]] * pad), torch.tensor(segments + [0] * pad), keep)
    if a.logits:
        mlm.contiguous().numpy().astype("<f4").tofile(a.logits)
    if a.nsp_logits:
        nsp.contiguous().numpy().astype("<f4").tofile(a.nsp_logits)
    for t, i in enumerate(ids):
        guess = itos[int(mlm[t, 5:].argmax()) + 5]                                         # past the 5 specials
        print(f"{itos[i]}\t{guess}" + ("\t<- [MASK]" if itos[i] == "[MASK]" else ""))
