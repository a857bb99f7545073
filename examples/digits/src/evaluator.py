"""Stage 3: score the pickled model on the test set and write metrics.json."""

import json
import pickle

from common import read_table
from sklearn.metrics import accuracy_score, f1_score

with open("models/model.pkl", "rb") as f:
    model = pickle.load(f)
X, y = read_table("data/prepared/test.csv")
predicted = model.predict(X)
metrics = {
    "model": type(model).__name__,
    "accuracy": round(float(accuracy_score(y, predicted)), 4),
    "macro_f1": round(float(f1_score(y, predicted, average="macro")), 4),
    "test_images": len(y),
}
with open("metrics.json", "w") as f:
    json.dump(metrics, f, indent=2)
    f.write("\n")
print(json.dumps(metrics))
