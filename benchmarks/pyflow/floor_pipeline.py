"""The floor: bare Python calling the three bodies of bodies.py in order, with no tool around them."""

from __future__ import annotations

from bodies import body, fit, make_data, score


def bench_pipeline(seed: int = 0) -> float:
    with body("importer"):
        X_train, X_test, y_train, y_test = make_data(seed)
    with body("trainer"):
        weights = fit(X_train, y_train)
    with body("evaluator"):
        return score(X_test, y_test, weights)


if __name__ == "__main__":  # one run in a fresh process: python floor_pipeline.py SEED
    import sys

    bench_pipeline(seed=int(sys.argv[1]))
