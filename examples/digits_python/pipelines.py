"""The digits pipeline: importer -> svc_trainer -> evaluator. Run it with ``art run pipelines:digits_pipeline``
(or ``python pipelines.py``) inside an art repository; swap ``svc_trainer`` for ``tree_trainer`` below to try
the other model (README.md)."""

from __future__ import annotations

from steps import evaluator, importer, svc_trainer, tree_trainer  # noqa: F401 - tree_trainer: swap it in below

from artvc import pipeline


@pipeline
def digits_pipeline(gamma: float = 0.001) -> None:
    X_train, X_test, y_train, y_test = importer()
    model = svc_trainer(X_train, y_train, gamma=gamma)
    evaluator(X_test, y_test, model)


if __name__ == "__main__":
    run = digits_pipeline()
    print(f"executed: {run.executed}, cached: {run.cached}")
