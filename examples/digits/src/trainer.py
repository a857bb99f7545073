"""Stage 2: fit the model named in params.toml ([trainer] model = "svc" or "tree") and pickle it."""

import pickle
from pathlib import Path

from common import params, read_table


def build(p: dict):
    if p["model"] == "svc":
        from sklearn.svm import SVC

        return SVC(C=p["C"], gamma=p["gamma"])
    if p["model"] == "tree":
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=p["max_depth"], random_state=p["seed"])
    raise SystemExit(f"unknown model {p['model']!r}: use 'svc' or 'tree'")


p = params("trainer")
X, y = read_table("data/prepared/train.csv")
model = build(p).fit(X, y)
Path("models").mkdir(exist_ok=True)
with open("models/model.pkl", "wb") as f:
    pickle.dump(model, f, protocol=5)
print(f"trained {type(model).__name__} on {len(y)} images")
