"""The benchmark pipeline under art: importer -> trainer -> evaluator, the bodies of bodies.py."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from bodies import body, fit, make_data, score

from artvc import pipeline, step


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
    return X_train, X_test, y_train, y_test


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
