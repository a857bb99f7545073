"""Copy scikit-learn's bundled digits table into data/raw/ (no download): the source data you `art add`."""

import shutil
from pathlib import Path

import sklearn.datasets

source = Path(sklearn.datasets.__file__).parent / "data" / "digits.csv.gz"
Path("data/raw").mkdir(parents=True, exist_ok=True)
shutil.copyfile(source, "data/raw/digits.csv.gz")
print(f"copied {source.name} ({source.stat().st_size} bytes) to data/raw/")
