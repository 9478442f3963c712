"""Out-of-sample scores of predictions: AUC, accuracy and log-loss, or RMSE for returns."""

from __future__ import annotations

import numpy as np

LOG_LOSS_CLIP = 1e-15


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve: the chance a random 1 scores above a random 0.

    Ties count one half (the Mann-Whitney statistic on average ranks).

    Returns
    -------
    float
        In [0, 1]; NaN when the labels are all one class.
    """
    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    wins = ranks[labels].sum() - positives * (positives + 1) / 2.0
    return float(wins / (positives * negatives))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return (last - (counts - 1) / 2.0)[inverse]


def accuracy(labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> float:
    """The share of bars whose predicted class (probability above ``threshold``) is right."""
    predicted = np.asarray(probabilities) > threshold
    return float(np.mean(predicted == np.asarray(labels, dtype=bool)))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean negative log-likelihood of the labels, probabilities clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float64), LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP)
    truth = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped)))


def rmse(targets: np.ndarray, predictions: np.ndarray) -> float:
    """The root mean squared error."""
    difference = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.sqrt(np.mean(difference**2)))


def classification_scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """``auc``, ``accuracy`` and ``log_loss`` of up/down probabilities."""
    return {
        "auc": roc_auc(labels, probabilities),
        "accuracy": accuracy(labels, probabilities),
        "log_loss": log_loss(labels, probabilities),
    }


def regression_scores(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """``rmse`` and ``auc`` (of the predicted return as a score for an up move)."""
    return {"rmse": rmse(targets, predictions), "auc": roc_auc(targets > 0, predictions)}
