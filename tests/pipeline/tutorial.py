"""The shape of DVC's tutorial project (prepare -> featurize -> train -> evaluate) on synthetic data.

``build(root)`` writes the data, the four stage scripts, ``params.yaml`` and the pipeline (``art.toml``, or
``dvc.yaml`` for ``tool="dvc"``, the same stages written as a DVC user has them); the caller adds the data
(``art add data/data.csv`` / ``dvc add``) and runs ``repro``. Two engines run the same shape:

- ``"stdlib"``: pure-Python scripts (a bag-of-words vocabulary, a bagged centroid classifier, ROC by hand),
  milliseconds per stage: the default tier's tests and the benchmark use it;
- ``"sklearn"``: DVC's own choices (CountVectorizer + TfidfTransformer, RandomForestClassifier, sklearn.metrics).

Both read every listed param, are deterministic (seeded), write ``eval/metrics.json`` (``avg_prec``,
``roc_auc``) and the ROC curve ``eval/plots/roc.csv`` (``fpr,tpr,threshold``). This module uses only the
standard library (the benchmark imports it by path).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

PARAMS: dict[str, dict[str, Any]] = {
    "prepare": {"split": 0.2, "seed": 20170428},
    "featurize": {"max_features": 100, "ngrams": 1},
    "train": {"seed": 20170428, "n_est": 50, "min_split": 2},
}

# the params each stage lists (bare keys: params.yaml)
STAGE_PARAMS = {
    "prepare": ["prepare.seed", "prepare.split"],
    "featurize": ["featurize.max_features", "featurize.ngrams"],
    "train": ["train.seed", "train.n_est", "train.min_split"],
    "evaluate": [],
}

# read params.yaml as written by write_params (two levels, scalars), without PyYAML
READ_PARAMS = """
def read_params():
    out, section = {}, None
    for line in open("params.yaml"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.strip().partition(":")
        if not line.startswith(" "):
            section = out.setdefault(key, {})
            continue
        value = value.strip()
        try:
            section[key] = int(value)
        except ValueError:
            try:
                section[key] = float(value)
            except ValueError:
                section[key] = value
    return out
"""

PREPARE = (
    READ_PARAMS
    + """
import os, random, sys
p = read_params()["prepare"]
rows = open(sys.argv[1]).read().splitlines()[1:]
random.Random(p["seed"]).shuffle(rows)
n_test = int(len(rows) * p["split"])
os.makedirs("data/prepared", exist_ok=True)
for name, part in (("test", rows[:n_test]), ("train", rows[n_test:])):
    with open(f"data/prepared/{name}.csv", "w") as f:
        f.write("text,label\\n" + "".join(r + "\\n" for r in part))
"""
)

FEATURIZE = (
    READ_PARAMS
    + """
import collections, json, math, os
p = read_params()["featurize"]

def grams(text):
    words = text.split()
    out = list(words)
    for n in range(2, p["ngrams"] + 1):
        out += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return out

def load(name):
    rows = [line.rsplit(",", 1) for line in open(f"data/prepared/{name}.csv").read().splitlines()[1:]]
    return [(grams(t), int(y)) for t, y in rows]

train, test = load("train"), load("test")
counts = collections.Counter(g for doc, _ in train for g in doc)
vocab = sorted(sorted(counts, key=lambda g: (-counts[g], g))[: p["max_features"]])
index = {g: i for i, g in enumerate(vocab)}
df = collections.Counter(g for doc, _ in train for g in set(doc) if g in index)
idf = {g: math.log((1 + len(train)) / (1 + df[g])) + 1 for g in vocab}

def vector(doc):
    tf = collections.Counter(g for g in doc if g in index)
    v = {index[g]: c * idf[g] for g, c in tf.items()}
    norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
    return {str(i): round(x / norm, 6) for i, x in sorted(v.items())}

os.makedirs("data/features", exist_ok=True)
for name, docs in (("train", train), ("test", test)):
    rows = [{"x": vector(d), "y": y} for d, y in docs]
    json.dump({"features": len(vocab), "rows": rows}, open(f"data/features/{name}.json", "w"))
"""
)

TRAIN = (
    READ_PARAMS
    + """
import json, random, sys
p = read_params()["train"]
data = json.load(open("data/features/train.json"))
rows, n = data["rows"], data["features"]
rng = random.Random(p["seed"])
weights = [0.0] * n
for _ in range(p["n_est"]):  # bagged centroid differences over features seen in at least min_split docs
    bag = [rows[rng.randrange(len(rows))] for _ in rows]
    seen, sums = [0] * n, [[0.0] * n, [0.0] * n]
    sizes = [0, 0]
    for r in bag:
        sizes[r["y"]] += 1
        for i, x in r["x"].items():
            seen[int(i)] += 1
            sums[r["y"]][int(i)] += x
    for i in range(n):
        if seen[i] >= p["min_split"]:
            weights[i] += (sums[1][i] / max(sizes[1], 1) - sums[0][i] / max(sizes[0], 1)) / p["n_est"]
json.dump({"weights": [round(w, 8) for w in weights]}, open(sys.argv[1], "w"))
"""
)

EVALUATE = """
import json, os, sys
weights = json.load(open(sys.argv[1]))["weights"]
rows = json.load(open("data/features/test.json"))["rows"]
scored = sorted(((sum(weights[int(i)] * x for i, x in r["x"].items()), r["y"]) for r in rows), reverse=True)
pos = sum(y for _, y in scored)
neg = len(scored) - pos
tp = fp = 0
roc = [(0.0, 0.0, scored[0][0] + 1 if scored else 1.0)]
auc = prec_sum = 0.0
for k, (s, y) in enumerate(scored):
    if y:
        tp += 1
        prec_sum += tp / (k + 1)
    else:
        fp += 1
        auc += tp
    if k + 1 == len(scored) or scored[k + 1][0] != s:
        roc.append((fp / max(neg, 1), tp / max(pos, 1), s))
os.makedirs("eval/plots", exist_ok=True)
metrics = {"avg_prec": round(prec_sum / max(pos, 1), 6), "roc_auc": round(auc / max(pos * neg, 1), 6)}
json.dump(metrics, open("eval/metrics.json", "w"), indent=2)
with open("eval/plots/roc.csv", "w") as f:
    f.write("fpr,tpr,threshold\\n" + "".join(f"{a:.6f},{b:.6f},{c:.6f}\\n" for a, b, c in roc))
"""

SK_FEATURIZE = (
    READ_PARAMS
    + """
import os, pickle
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
p = read_params()["featurize"]

def load(name):
    rows = [line.rsplit(",", 1) for line in open(f"data/prepared/{name}.csv").read().splitlines()[1:]]
    return [t for t, _ in rows], [int(y) for _, y in rows]

(train_x, train_y), (test_x, test_y) = load("train"), load("test")
bag = CountVectorizer(max_features=p["max_features"], ngram_range=(1, p["ngrams"]), token_pattern=r"\\S+")
tfidf = TfidfTransformer(smooth_idf=False)
train_m = tfidf.fit_transform(bag.fit_transform(train_x))
test_m = tfidf.transform(bag.transform(test_x))
os.makedirs("data/features", exist_ok=True)
pickle.dump((train_m, train_y), open("data/features/train.pkl", "wb"))
pickle.dump((test_m, test_y), open("data/features/test.pkl", "wb"))
"""
)

SK_TRAIN = (
    READ_PARAMS
    + """
import pickle, sys
from sklearn.ensemble import RandomForestClassifier
p = read_params()["train"]
x, y = pickle.load(open("data/features/train.pkl", "rb"))
clf = RandomForestClassifier(n_estimators=p["n_est"], min_samples_split=p["min_split"], n_jobs=1,
                             random_state=p["seed"])
clf.fit(x, y)
pickle.dump(clf, open(sys.argv[1], "wb"))
"""
)

SK_EVALUATE = """
import json, os, pickle, sys
from sklearn import metrics
clf = pickle.load(open(sys.argv[1], "rb"))
x, y = pickle.load(open("data/features/test.pkl", "rb"))
score = clf.predict_proba(x)[:, 1]
fpr, tpr, thresholds = metrics.roc_curve(y, score)
os.makedirs("eval/plots", exist_ok=True)
m = {"avg_prec": round(float(metrics.average_precision_score(y, score)), 6),
     "roc_auc": round(float(metrics.roc_auc_score(y, score)), 6)}
json.dump(m, open("eval/metrics.json", "w"), indent=2)
with open("eval/plots/roc.csv", "w") as f:
    f.write("fpr,tpr,threshold\\n" + "".join(f"{a:.6f},{b:.6f},{min(c, 1e9):.6f}\\n"
                                              for a, b, c in zip(fpr, tpr, thresholds)))
"""

SCRIPTS = {
    "stdlib": {"prepare": PREPARE, "featurize": FEATURIZE, "train": TRAIN, "evaluate": EVALUATE},
    "sklearn": {"prepare": PREPARE, "featurize": SK_FEATURIZE, "train": SK_TRAIN, "evaluate": SK_EVALUATE},
}
MODEL = {"stdlib": "model.json", "sklearn": "model.pkl"}


def data_csv(docs: int = 1000, seed: int = 0) -> str:
    """Synthetic labelled documents: each class draws more often from its own 40 words of a 400-word vocabulary."""
    rng = random.Random(seed)
    words = [f"w{i:03d}" for i in range(400)]
    lines = ["text,label"]
    for _ in range(docs):
        label = rng.randrange(2)
        own = words[label * 40 : label * 40 + 40]
        doc = [rng.choice(own) if rng.random() < 0.3 else rng.choice(words) for _ in range(rng.randint(8, 24))]
        lines.append(f"{' '.join(doc)},{label}")
    return "\n".join(lines) + "\n"


def params_yaml(params: dict[str, dict[str, Any]]) -> str:
    return "".join(f"{s}:\n" + "".join(f"  {k}: {v}\n" for k, v in body.items()) for s, body in params.items())


def write_params(root: Path, **changes: Any) -> None:
    """Rewrite params.yaml from PARAMS with ``section__key=value`` changes (``train__n_est=100``)."""
    params = {s: dict(body) for s, body in PARAMS.items()}
    for name, value in changes.items():
        section, _, key = name.partition("__")
        params[section][key] = value
    (root / "params.yaml").write_text(params_yaml(params))


def stages(engine: str, python: str) -> dict[str, dict[str, Any]]:
    """The four stages as a DVC user declares them (``outs``, ``metrics``, ``plots``)."""
    model = MODEL[engine]
    feats = "data/features"
    return {
        "prepare": {
            "cmd": f"{python} src/prepare.py data/data.csv",
            "deps": ["data/data.csv", "src/prepare.py"],
            "outs": ["data/prepared"],
        },
        "featurize": {
            "cmd": f"{python} src/featurization.py",
            "deps": ["data/prepared", "src/featurization.py"],
            "outs": [feats],
        },
        "train": {"cmd": f"{python} src/train.py {model}", "deps": [feats, "src/train.py"], "outs": [model]},
        "evaluate": {
            "cmd": f"{python} src/evaluate.py {model}",
            "deps": [model, feats, "src/evaluate.py"],
            "metrics": ["eval/metrics.json"],
            "plots": ["eval/plots/roc.csv"],
        },
    }


def art_toml(engine: str, python: str, *, plots: bool) -> str:
    out = []
    for name, body in stages(engine, python).items():
        out.append(f"[stages.{name}]")
        out.append(f"cmd = {json.dumps(body['cmd'])}")
        out.append(f"deps = {json.dumps(body['deps'])}")
        if STAGE_PARAMS[name]:
            out.append(f"params = {json.dumps(STAGE_PARAMS[name])}")
        outs = body.get("outs", []) + ([] if plots else body.get("plots", []))
        if outs:
            out.append(f"outs = {json.dumps(outs)}")
        if body.get("metrics"):
            out.append(f"metrics = {json.dumps(body['metrics'])}")
        if plots and body.get("plots"):
            out.append(f"plots = [{{ path = {json.dumps(body['plots'][0])}, x = 'fpr', y = 'tpr' }}]")
        out.append("")
    return "\n".join(out)


def dvc_yaml(engine: str, python: str) -> str:
    out = ["stages:"]
    for name, body in stages(engine, python).items():
        out += [f"  {name}:", f"    cmd: {body['cmd']}", "    deps:", *(f"    - {d}" for d in body["deps"])]
        if STAGE_PARAMS[name]:
            out += ["    params:", *(f"    - {p}" for p in STAGE_PARAMS[name])]
        if body.get("outs"):
            out += ["    outs:", *(f"    - {o}" for o in body["outs"])]
        if body.get("metrics"):
            out += ["    metrics:", *(f"    - {m}" for m in body["metrics"])]
        if body.get("plots"):
            out += ["    plots:", *(f"    - {p}:\n        x: fpr\n        y: tpr" for p in body["plots"])]
    return "\n".join(out) + "\n"


def build(
    root: Path,
    *,
    tool: str = "art",
    engine: str = "stdlib",
    python: str = sys.executable,
    docs: int = 1000,
    plots: bool = False,
) -> None:
    """Write the tutorial project into ``root`` (an existing, initialised repository): ``data/data.csv``,
    ``src/*.py``, ``params.yaml`` and ``art.toml`` (``tool="art"``; ``plots`` declares the ROC curve in the
    ``plots`` field, else it is an ordinary output) or ``dvc.yaml`` (``tool="dvc"``)."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data/data.csv").write_text(data_csv(docs))
    (root / "src").mkdir(exist_ok=True)
    files = {"prepare": "prepare.py", "featurize": "featurization.py", "train": "train.py", "evaluate": "evaluate.py"}
    for stage, text in SCRIPTS[engine].items():
        (root / "src" / files[stage]).write_text(text.lstrip())
    write_params(root)
    if tool == "dvc":
        (root / "dvc.yaml").write_text(dvc_yaml(engine, python))
    else:
        (root / "art.toml").write_text(art_toml(engine, python, plots=plots))
