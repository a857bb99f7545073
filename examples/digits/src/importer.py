"""Stage 1: read data/raw/digits.csv.gz and split it into data/prepared/{train,test}.csv (stratified)."""

import gzip

from common import params, write_table
from sklearn.model_selection import train_test_split

p = params("importer")
with gzip.open("data/raw/digits.csv.gz", "rt") as f:
    rows = [[int(float(v)) for v in line.split(",")] for line in f if line.strip()]
labels = [r[-1] for r in rows]
train, test = train_test_split(rows, test_size=p["test_size"], random_state=p["seed"], stratify=labels)
write_table("data/prepared/train.csv", train)
write_table("data/prepared/test.csv", test)
print(f"{len(train)} training and {len(test)} test images")
