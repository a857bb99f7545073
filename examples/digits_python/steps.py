"""The steps of the digits lesson: load and split scikit-learn's bundled handwritten digits, fit a model (an SVC
or a decision tree), score it. Each step is a plain function; ``@step`` makes its inputs and outputs versioned
artifacts and caches it (walkthrough: README.md, docs/python-pipelines.md)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from artvc import log_metadata, step


@step
def importer() -> tuple[
    Annotated[np.ndarray, "X_train"],
    Annotated[np.ndarray, "X_test"],
    Annotated[np.ndarray, "y_train"],
    Annotated[np.ndarray, "y_test"],
]:
    """Flatten the 1,797 8x8 images into rows of 64 pixels and split them 80/20 (no shuffling)."""
    digits = load_digits()
    data = digits.images.reshape((len(digits.images), -1))
    X_train, X_test, y_train, y_test = train_test_split(data, digits.target, test_size=0.2, shuffle=False)
    return X_train, X_test, y_train, y_test


@step
def svc_trainer(X_train: np.ndarray, y_train: np.ndarray, gamma: float = 0.001) -> Annotated[ClassifierMixin, "model"]:
    """A support vector classifier."""
    model = SVC(gamma=gamma)
    model.fit(X_train, y_train)
    return model


@step
def tree_trainer(X_train: np.ndarray, y_train: np.ndarray) -> Annotated[ClassifierMixin, "model"]:
    """A decision tree (seeded, so that training it again gives the same model)."""
    model = DecisionTreeClassifier(random_state=0)
    model.fit(X_train, y_train)
    return model


@step
def evaluator(X_test: np.ndarray, y_test: np.ndarray, model: ClassifierMixin) -> Annotated[float, "accuracy"]:
    """The model's accuracy on the test images, also attached to the run as metadata."""
    accuracy = float(model.score(X_test, y_test))
    log_metadata({"accuracy": accuracy, "model": type(model).__name__})
    print(f"Test accuracy of {type(model).__name__}: {accuracy:.4f}")
    return accuracy
