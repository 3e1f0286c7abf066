"""Softmax regression on the Iris data, in plain Python (no numpy needed).

Written like any training script: argparse flags, data and output paths from the
environment (mlx sets the same variables on every platform), metrics printed each epoch.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def load(path: str) -> tuple[list[list[float]], list[str]]:
    if os.path.isdir(path):
        path = os.path.join(path, sorted(os.listdir(path))[0])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [[float(r[k]) for k in FEATURES] for r in rows], [r["species"] for r in rows]


def standardize(x, mean=None, std=None):
    columns = list(zip(*x))
    mean = mean or [sum(c) / len(c) for c in columns]
    std = std or [
        math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0 for c, m in zip(columns, mean)
    ]
    return [[(v - m) / s for v, m, s in zip(row, mean, std)] for row in x], mean, std


def softmax(z):
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


def predict(w, b, row):
    return softmax([sum(wi * xi for wi, xi in zip(wk, row)) + bk for wk, bk in zip(w, b)])


def evaluate(w, b, x, y):
    loss, correct = 0.0, 0
    for row, label in zip(x, y):
        p = predict(w, b, row)
        loss -= math.log(max(p[label], 1e-12))
        correct += max(range(len(p)), key=p.__getitem__) == label
    return loss / len(x), correct / len(x)


def train_epoch(w, b, x, y, lr, l2, batch_size, rng):
    order = list(range(len(x)))
    rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        gw = [[0.0] * len(w[0]) for _ in w]
        gb = [0.0] * len(b)
        for i in batch:
            p = predict(w, b, x[i])
            for k in range(len(w)):
                err = p[k] - (1.0 if k == y[i] else 0.0)
                gb[k] += err
                for j, xj in enumerate(x[i]):
                    gw[k][j] += err * xj
        for k in range(len(w)):
            b[k] -= lr * gb[k] / len(batch)
            for j in range(len(w[k])):
                w[k][j] -= lr * (gw[k][j] / len(batch) + l2 * w[k][j])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--l2", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", default=os.environ.get("MLX_INPUT_TRAIN", "data/train.csv"))
    parser.add_argument("--test", default=os.environ.get("MLX_INPUT_TEST", "data/test.csv"))
    parser.add_argument("--model-dir", default=os.environ.get("MLX_MODEL_DIR", "model"))
    parser.add_argument("--output-dir", default=os.environ.get("MLX_OUTPUT_DIR", "output"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    x_train, labels_train = load(args.train)
    x_test, labels_test = load(args.test)
    classes = sorted(set(labels_train))
    y_train = [classes.index(c) for c in labels_train]
    y_test = [classes.index(c) for c in labels_test]
    x_train, mean, std = standardize(x_train)
    x_test, _, _ = standardize(x_test, mean, std)
    w = [[rng.gauss(0, 0.01) for _ in FEATURES] for _ in classes]
    b = [0.0] * len(classes)

    print(
        f"training on {len(x_train)} rows, {len(classes)} classes, "
        f"learning rate {args.learning_rate}"
    )
    history = []
    for epoch in range(1, args.epochs + 1):
        train_epoch(w, b, x_train, y_train, args.learning_rate, args.l2, args.batch_size, rng)
        train_loss, train_acc = evaluate(w, b, x_train, y_train)
        val_loss, val_acc = evaluate(w, b, x_test, y_test)
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
            }
        )
        print(
            f"epoch={epoch} train_loss={train_loss:.4f} train_accuracy={train_acc:.3f} "
            f"val_loss={val_loss:.4f} val_accuracy={val_acc:.3f}"
        )

    os.makedirs(args.model_dir, exist_ok=True)
    with open(os.path.join(args.model_dir, "model.json"), "w") as f:
        json.dump(
            {
                "classes": classes,
                "features": FEATURES,
                "weights": w,
                "bias": b,
                "mean": mean,
                "std": std,
            },
            f,
            indent=2,
        )
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "metrics.json"), "w") as f:
        json.dump({"final": history[-1], "history": history}, f, indent=2)
    print(f"saved model to {args.model_dir}/model.json")


if __name__ == "__main__":
    main()
