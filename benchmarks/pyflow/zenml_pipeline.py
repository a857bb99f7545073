"""The benchmark pipeline under ZenML: importer -> trainer -> evaluator, the bodies of bodies.py.

No ``from __future__ import annotations``: ZenML reads the output annotations as objects.
"""

from typing import Annotated

import numpy as np
from bodies import body, fit, make_data, score
from zenml import pipeline, step


@step
def importer(
    seed: int,
) -> tuple[
    Annotated[np.ndarray, "X_train"],
    Annotated[np.ndarray, "X_test"],
    Annotated[np.ndarray, "y_train"],
    Annotated[np.ndarray, "y_test"],
]:
    with body("importer"):
        X_train, X_test, y_train, y_test = make_data(seed)
    return X_train, X_test, y_train, y_test  # a tuple literal: ZenML looks for one to allow several outputs


@step
def trainer(X_train: np.ndarray, y_train: np.ndarray) -> Annotated[np.ndarray, "weights"]:
    with body("trainer"):
        return fit(X_train, y_train)


@step
def evaluator(X_test: np.ndarray, y_test: np.ndarray, weights: np.ndarray) -> Annotated[float, "accuracy"]:
    with body("evaluator"):
        return score(X_test, y_test, weights)


@pipeline
def bench_pipeline(seed: int = 0) -> None:
    X_train, X_test, y_train, y_test = importer(seed=seed)
    weights = trainer(X_train, y_train)
    evaluator(X_test, y_test, weights)


if __name__ == "__main__":  # one run in a fresh process: python zenml_pipeline.py SEED
    import sys

    bench_pipeline(seed=int(sys.argv[1]))
