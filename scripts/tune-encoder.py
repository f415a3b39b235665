#!/usr/bin/env python3
"""Fine-tune the sentence encoder on the example sentences, offline and reproducibly.

usage: scripts/tune-encoder.py [--examples config/examples.toml] [--base models/minilm-l3-q4]
                               [--out models/minilm-l3-council] [--seed 0] [--epochs 3]
                               [--pairs-per-sentence 6] [--check-only] [--hold-out 0.2]

What it does (SetFit's contrastive step, on councilgate's own decision rule):
  * reads the bundled base encoder (paraphrase-MiniLM-L3-v2, 4-bit weights in groups of 32 with F16
    scales, as pocket-encoder stores them) and expands it to F32 exactly as
    src/policy/semantic/encoder.rs does;
  * makes sentence pairs from the example sets: two positives of one detector should read alike
    (target cosine 1), a positive and one of that detector's negatives or an `[ordinary]` sentence
    should not (target 0). Pairs are drawn with a fixed seed;
  * trains the three transformer layers (the word, position and type embeddings stay frozen, as
    they are stored in 4 bits and hold most of the parameters) with a cosine-similarity loss
    (mean squared error between the pair's cosine and its target), AdamW, three epochs, dropout on;
  * writes the trained layers to OUT/layers.safetensors (matrices F16, vectors F32): an overlay the
    gateway lays over the base weights; OUT/tuning.json records the recipe, the inputs' SHA-256 and
    the versions used; OUT/probe.json holds the tuned vectors of a few sentences, which a Rust test
    compares with the gateway's own (so the Rust loader and this script cannot drift apart).

It reads nothing from the network. Needs CPython 3.11 with torch, tokenizers, safetensors and numpy
from PyPI (CPU only). Run on one thread with deterministic algorithms: the same inputs and the same
torch version give the same weights, byte for byte. After running it: rebuild, run
`councilgate examples embed --out config/examples.embeddings`, and recalibrate the thresholds
(scripts/calibrate-semantic.py); the README's "Reading meaning" says how.

--hold-out F sets aside a fraction F of each detector's examples (and of the ordinary ones), tunes on
the rest, and prints for each detector how well the base and the tuned model tell the set-aside
positives from the set-aside negatives by councilgate's rule (the score of a sentence is its
similarity to the nearest positive example when that is nearer than every negative, else 0): the
area under the ROC curve, and the share of positives above the highest-scoring negative. It writes
no weights.

--check-only embeds the examples with the base weights and compares them with
config/examples.embeddings when that file was made by the base model (a test of this script's
model against the gateway's), then stops.
"""
import argparse, hashlib, json, math, os, random, struct, sys, tomllib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer

MAX_TOKENS = 128
BASE_NAME = "pocket-encoder/minilm-l3-q4-g32-v1"
TUNED_NAME = "councilgate/minilm-l3-q4-council-v1"
PROBES = [
    "I expect the recommendation to be changed before the papers go out.",
    "Could you let me know how many bookings we have for the hall in December?",
    "Please strim plot 4 on Friday.",
    "It would be a shame if your contract were not renewed.",
    "Thanks for sending the minutes over so quickly.",
]


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def load_base(base):
    """The base weights expanded to F32, as the gateway expands them."""
    shapes = json.load(open(os.path.join(base, "shapes.json")))
    out = {}
    with safe_open(os.path.join(base, "model.safetensors"), framework="numpy") as f:
        for name, shape in shapes.items():
            count = int(np.prod(shape))
            if len(shape) < 2:
                data = f.get_tensor(name).astype(np.float32).reshape(-1)
            else:
                packed = f.get_tensor(name + ".q4").reshape(-1).astype(np.uint8)
                scales = f.get_tensor(name + ".scales").reshape(-1).view(np.float16).astype(np.float32)
                nibbles = np.empty(packed.size * 2, dtype=np.int16)
                nibbles[0::2] = packed & 15
                nibbles[1::2] = packed >> 4
                values = (nibbles[:count] - 8).astype(np.float32)
                data = values * np.repeat(scales, 32)[:count]
            out[name] = torch.from_numpy(np.ascontiguousarray(data.reshape(shape)))
    return out


class Bert(torch.nn.Module):
    """BERT as candle-transformers runs it (post-norm, GELU by erf), named as the weights are."""

    def __init__(self, weights, config):
        super().__init__()
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.dropout = config["hidden_dropout_prob"]
        self.attn_dropout = config["attention_probs_dropout_prob"]
        self.names = {}
        for name, t in weights.items():
            p = torch.nn.Parameter(t.clone(), requires_grad=name.startswith("encoder.layer."))
            key = name.replace(".", "__")
            self.names[name] = key
            self.register_parameter(key, p)

    def w(self, name):
        return getattr(self, self.names[name])

    def ln(self, x, prefix):
        return F.layer_norm(x, x.shape[-1:], self.w(prefix + ".weight"), self.w(prefix + ".bias"), self.eps)

    def lin(self, x, prefix):
        return F.linear(x, self.w(prefix + ".weight"), self.w(prefix + ".bias"))

    def forward(self, ids, mask):
        b, n = ids.shape
        pos = torch.arange(n).unsqueeze(0)
        x = (F.embedding(ids, self.w("embeddings.word_embeddings.weight"))
             + F.embedding(pos, self.w("embeddings.position_embeddings.weight"))
             + self.w("embeddings.token_type_embeddings.weight")[0])
        x = F.dropout(self.ln(x, "embeddings.LayerNorm"), self.dropout, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        d = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            split = lambda t: t.view(b, n, self.heads, d).transpose(1, 2)
            q = split(self.lin(x, p + ".attention.self.query"))
            k = split(self.lin(x, p + ".attention.self.key"))
            v = split(self.lin(x, p + ".attention.self.value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            att = F.dropout(att, self.attn_dropout, self.training)
            ctx = (att @ v).transpose(1, 2).reshape(b, n, -1)
            a = F.dropout(self.lin(ctx, p + ".attention.output.dense"), self.dropout, self.training)
            x = self.ln(a + x, p + ".attention.output.LayerNorm")
            h = F.gelu(self.lin(x, p + ".intermediate.dense"))
            o = F.dropout(self.lin(h, p + ".output.dense"), self.dropout, self.training)
            x = self.ln(o + x, p + ".output.LayerNorm")
        # The gateway's pooling: the masked sum of the last hidden states, to unit length.
        pooled = (x * mask.unsqueeze(-1).float()).sum(1)
        return F.normalize(pooled, dim=-1)


def encode(model, tok, texts):
    rows = [tok.encode(t).ids[:MAX_TOKENS] for t in texts]
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (n - len(r)) for r in rows])
    return model(ids, mask)


def embed(model, tok, texts, batch=32):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            out.append(encode(model, tok, texts[i:i + batch]))
    return torch.cat(out)


def read_examples(path):
    data = tomllib.load(open(path, "rb"))
    ordinary = list(data.get("ordinary", {}).get("negative", []))
    sets = {}
    for name, table in data.items():
        if name == "ordinary":
            continue
        sets[name] = (list(table.get("positive", [])), list(table.get("negative", [])))
    return sets, ordinary


def make_pairs(sets, ordinary, per_sentence, rng):
    """SetFit's pairs: for each positive, `per_sentence` positives of its detector (target 1) and as
    many of its detector's negatives or ordinary sentences (target 0); for each negative, as many
    positives of its detector (target 0)."""
    pairs = []
    for name in sorted(sets):
        pos, neg = sets[name]
        if len(pos) < 2:
            continue
        others = neg + ordinary
        for p in pos:
            mates = [q for q in pos if q != p]
            for _ in range(per_sentence):
                pairs.append((p, rng.choice(mates), 1.0))
                pairs.append((p, rng.choice(others), 0.0))
        for n in neg:
            for _ in range(per_sentence):
                pairs.append((n, rng.choice(pos), 0.0))
    rng.shuffle(pairs)
    return pairs


def split(sets, ordinary, fraction, rng):
    """Sets aside `fraction` of each detector's positives and negatives and of the ordinary
    sentences."""
    def cut(xs):
        xs = sorted(xs)
        rng.shuffle(xs)
        k = max(1, round(len(xs) * fraction)) if len(xs) > 2 else 0
        return xs[k:], xs[:k]
    train, held = {}, {}
    for name in sorted(sets):
        pos, neg = sets[name]
        (tp, hp), (tn, hn) = cut(pos), cut(neg)
        train[name], held[name] = (tp, tn), (hp, hn)
    train_ord, held_ord = cut(ordinary)
    held["ordinary"] = ([], held_ord)
    return train, train_ord, held


def evaluate(model, tok, sets, ordinary, held):
    """Per detector: (AUC, share of held positives scoring above every held negative, positives,
    negatives), by the nearest-example rule over the training examples."""
    cache = {}
    def vecs(texts):
        new = [t for t in texts if t not in cache]
        if new:
            for t, v in zip(new, embed(model, tok, new)):
                cache[t] = v
        return torch.stack([cache[t] for t in texts]) if texts else torch.zeros(0, 384)
    out = {}
    for name in sorted(sets):
        pos, neg = sets[name]
        hp, hn = held[name]
        hn = hn + held["ordinary"][1]
        if not hp or not pos:
            continue
        P, N = vecs(pos), vecs(neg + ordinary)
        def score(texts):
            X = vecs(texts)
            sp, sn = (X @ P.T).max(1).values, (X @ N.T).max(1).values
            return torch.where(sp > sn, sp, torch.zeros_like(sp)).tolist()
        s_pos, s_neg = score(hp), score(hn)
        auc = sum((a > b) + 0.5 * (a == b) for a in s_pos for b in s_neg) / (len(s_pos) * len(s_neg))
        top = max(s_neg)
        clear = sum(a > top for a in s_pos) / len(s_pos)
        out[name] = (auc, clear, len(s_pos), len(s_neg))
    return out


def read_shipped(path, identity):
    """The vectors of config/examples.embeddings, by key, when made by `identity`."""
    data = open(path, "rb").read()
    if not data.startswith(b"CGEMB01\n"):
        return None
    (length,) = struct.unpack("<I", data[8:12])
    if data[12:12 + length].decode() != identity:
        return None
    body = data[12 + length:]
    entry = 16 + 384 * 4
    return {body[i:i + 16]: np.frombuffer(body[i + 16:i + entry], dtype="<f4")
            for i in range(0, len(body), entry)}


def key(identity, text):
    return hashlib.sha256(identity.encode() + b"\0" + text.encode()).digest()[:16]


def main():
    ap = argparse.ArgumentParser()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--examples", default=os.path.join(repo, "config/examples.toml"))
    ap.add_argument("--base", default=os.path.join(repo, "models/minilm-l3-q4"))
    ap.add_argument("--out", default=os.path.join(repo, "models/minilm-l3-council"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--pairs-per-sentence", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--hold-out", type=float, default=0.0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(args.seed)

    config = json.load(open(os.path.join(args.base, "config.json")))
    tok = Tokenizer.from_file(os.path.join(args.base, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    base = load_base(args.base)
    model = Bert(base, config)
    sets, ordinary = read_examples(args.examples)
    texts = sorted({t for p, n in sets.values() for t in p + n} | set(ordinary))

    base_id = BASE_NAME + " sha256:" + sha256(os.path.join(args.base, "model.safetensors"))
    shipped = read_shipped(os.path.join(repo, "config/examples.embeddings"), base_id)
    if shipped is not None:
        ours = embed(model, tok, texts).numpy()
        worst = min(float(np.dot(ours[i], shipped[key(base_id, t)]))
                    for i, t in enumerate(texts) if key(base_id, t) in shipped)
        print(f"base model against the gateway's vectors: lowest cosine {worst:.6f}")
        if worst < 0.9999:
            sys.exit("this script's model does not compute the gateway's vectors")
    elif args.check_only:
        sys.exit("config/examples.embeddings was not made by the base model: nothing to compare")
    if args.check_only:
        return

    held = None
    if args.hold_out > 0:
        sets, ordinary, held = split(sets, ordinary, args.hold_out, rng)
        before = evaluate(model, tok, sets, ordinary, held)
    pairs = make_pairs(sets, ordinary, args.pairs_per_sentence, rng)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(pairs) / args.batch)
    warmup = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    print(f"{len(texts)} sentences, {len(pairs)} pairs, {steps} steps")
    step = 0
    for epoch in range(args.epochs):
        if epoch:
            rng.shuffle(pairs)
        for i in range(0, len(pairs), args.batch):
            model.train()
            chunk = pairs[i:i + args.batch]
            a = encode(model, tok, [p[0] for p in chunk])
            b = encode(model, tok, [p[1] for p in chunk])
            target = torch.tensor([p[2] for p in chunk])
            loss = F.mse_loss((a * b).sum(-1), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == steps:
                print(f"step {step}/{steps} loss {loss.item():.4f}")

    if held is not None:
        after = evaluate(model, tok, sets, ordinary, held)
        print(f"{'detector':<18} {'held +/-':>9}  {'AUC base':>8} {'tuned':>6}  {'clear base':>10} {'tuned':>6}")
        for name in sorted(before):
            (auc0, clear0, n_pos, n_neg), (auc1, clear1, _, _) = before[name], after[name]
            print(f"{name:<18} {n_pos:>4}/{n_neg:<4}  {auc0:>8.3f} {auc1:>6.3f}  {clear0:>10.2f} {clear1:>6.2f}")
        mean = lambda d, k: sum(v[k] for v in d.values()) / len(d)
        print(f"{'mean':<18} {'':>9}  {mean(before, 0):>8.3f} {mean(after, 0):>6.3f}  "
              f"{mean(before, 1):>10.2f} {mean(after, 1):>6.2f}")
        return

    os.makedirs(args.out, exist_ok=True)
    layers = {}
    for name in base:
        if not name.startswith("encoder.layer."):
            continue
        t = model.w(name).detach().contiguous()
        layers[name] = t.to(torch.float16) if t.dim() >= 2 else t
    save_file(layers, os.path.join(args.out, "layers.safetensors"))
    # The probes through the weights as stored (F16 matrices), as the gateway will read them.
    stored = Bert({**base, **{k: v.to(torch.float32) for k, v in layers.items()}}, config)
    probes = embed(stored, tok, PROBES).numpy()
    json.dump({"name": TUNED_NAME,
               "probes": [{"text": t, "vector": [round(float(x), 7) for x in v]}
                          for t, v in zip(PROBES, probes)]},
              open(os.path.join(args.out, "probe.json"), "w"), indent=1)
    json.dump({
        "name": TUNED_NAME,
        "base": base_id,
        "layers_sha256": sha256(os.path.join(args.out, "layers.safetensors")),
        "examples": os.path.relpath(args.examples, repo),
        "examples_sha256": sha256(args.examples),
        "recipe": {"seed": args.seed, "epochs": args.epochs, "pairs": len(pairs),
                   "pairs_per_sentence": args.pairs_per_sentence, "batch": args.batch,
                   "lr": args.lr, "optimizer": "AdamW weight_decay=0.01, linear warm-up 10% and decay",
                   "loss": "MSE of cosine against 1 (same detector's positives) or 0 (a positive and "
                           "a negative or ordinary sentence)",
                   "trained": "encoder.layer.* (embeddings frozen)", "threads": 1},
        "torch": torch.__version__, "numpy": np.__version__,
    }, open(os.path.join(args.out, "tuning.json"), "w"), indent=1)
    print(f"wrote {args.out}/layers.safetensors")


if __name__ == "__main__":
    main()
