"""Loads a `ringformer export` of a vit model into a small PyTorch ViT and classifies images.

    /usr/bin/python3 launch/export/torch_vit.py runs/export/model.safetensors --images digits.f32
    /usr/bin/python3 launch/export/torch_vit.py runs/export/model.safetensors --images digits.f32 --logits out.f32

--images holds N images as little-endian float32 pixels in [0, 1], [N, channels·height·width] (row-major, as
the idx files store them); they are normalised with image_stats.json's mean and std, as ringformer trained on them.

The weights carry Hugging Face ViTForImageClassification's names and layout and the model is that one, so with
the `transformers` package the directory also loads as ViTForImageClassification.from_pretrained(directory)
(normalise the images the same way: ViTImageProcessor with image_mean and image_std from image_stats.json,
do_resize off). This file needs only torch (Debian python3-torch) and is the model in thirty lines.
"""
import argparse, json, math, os
import torch
import torch.nn.functional as F
from torch_gpt2 import load_safetensors


class Vit:
    """ViT's forward pass over the exported tensors: images [N, C, H, W] (normalised) -> class logits [N, classes]."""

    def __init__(self, weights, config):
        self.w, self.c = weights, config

    def layer_norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                            self.c["layer_norm_eps"])

    def linear(self, x, name):                                                            # nn.Linear: x @ Wᵀ + b
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def __call__(self, images):
        h, d, e = self.c["num_attention_heads"], self.c["hidden_size"], "vit.embeddings."
        patches = F.conv2d(images, self.w[e + "patch_embeddings.projection.weight"],
                           self.w[e + "patch_embeddings.projection.bias"], stride=self.c["patch_size"])  # [N, d, h', w']
        patches = patches.flatten(2).transpose(1, 2)                                       # [N, P, d], row by row
        n = len(images)
        x = torch.cat([self.w[e + "cls_token"].expand(n, 1, d), patches], dim=1)           # [N, T, d]
        x = x + self.w[e + "position_embeddings"]
        t = x.shape[1]
        for i in range(self.c["num_hidden_layers"]):
            p = f"vit.encoder.layer.{i}."
            a = self.layer_norm(x, p + "layernorm_before")
            q, k, v = (self.linear(a, p + "attention.attention." + name).view(n, t, h, d // h).transpose(1, 2)
                       for name in ("query", "key", "value"))                              # [N, H, T, dh] each
            scores = q @ k.transpose(2, 3) / math.sqrt(d // h)                             # [N, H, T, T]
            y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, t, d)                   # [N, T, d]
            x = x + self.linear(y, p + "attention.output.dense")
            m = F.gelu(self.linear(self.layer_norm(x, p + "layernorm_after"), p + "intermediate.dense"))  # [N, T, 4d]
            x = x + self.linear(m, p + "output.dense")
        x = self.layer_norm(x, "vit.layernorm")
        return self.linear(x[:, 0], "classifier")                                          # [CLS] -> [N, classes]


def load(weights_path):
    directory = os.path.dirname(os.path.abspath(weights_path))
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "image_stats.json")) as f:
        stats = json.load(f)
    return Vit(load_safetensors(weights_path), config), stats


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("weights")
    p.add_argument("--images", required=True, help="[N, C·H·W] little-endian float32 pixels in [0, 1]")
    p.add_argument("--logits", help="write the class logits, [N, classes] little-endian float32, to this file")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, stats = load(a.weights)
    c, side = stats["channels"], (stats["height"], stats["width"])
    with open(a.images, "rb") as f:
        pixels = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(-1, c, *side)
    mean = torch.tensor(stats["mean"], dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(stats["std"], dtype=torch.float32).view(1, c, 1, 1)
    with torch.no_grad():
        logits = model((pixels - mean) / std)
    if a.logits:
        logits.contiguous().numpy().astype("<f4").tofile(a.logits)
    labels = model.c["id2label"]
    for row in logits:
        print(labels[str(int(row.argmax()))])
