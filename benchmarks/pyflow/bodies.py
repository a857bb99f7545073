"""The three step bodies both tools run (numpy only), and the timer that logs each body's own time.

Every body runs inside ``body(name)``, which appends ``name wall_seconds cpu_seconds`` to the file named by
``$BENCH_BODY_LOG`` when it ends: the driver subtracts these from a run's time to get the tool's overhead, and
counts them to check that a cached run really called no body.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import numpy as np

ROWS, FEATURES, CLASSES = 2000, 16, 4


@contextmanager
def body(name: str):
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        elapsed, used = time.perf_counter() - start, time.thread_time() - cpu
        log = os.environ.get("BENCH_BODY_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(f"{name} {elapsed:.9f} {used:.9f}\n")


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded synthetic classification data (Gaussian blobs), split 75/25."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, size=ROWS)
    X = centres[y] + rng.normal(0.0, 1.0, size=(ROWS, FEATURES))
    cut = ROWS * 3 // 4
    return X[:cut], X[cut:], y[:cut], y[cut:]


def fit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A one-vs-rest least-squares linear classifier: (FEATURES + 1) x CLASSES weights."""
    A = np.hstack([X, np.ones((len(X), 1))])
    targets = np.eye(CLASSES)[y]
    weights, *_ = np.linalg.lstsq(A, targets, rcond=None)
    return weights


def score(X: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """Accuracy of the weights on (X, y)."""
    predicted = np.argmax(np.hstack([X, np.ones((len(X), 1))]) @ weights, axis=1)
    return float(np.mean(predicted == y))
