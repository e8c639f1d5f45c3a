#!/usr/bin/env python3
"""Trains the benchmark's iris model for MLServer and writes an MLServer model repository.

    <mlserver venv>/bin/python bench/server/train_iris.py --out DIR --http-port P --grpc-port Q \
        --metrics-port M [--parallel-workers N] [--max-batch-size B --max-batch-time T]

The training is scripts/make-models.py's iris() (fit_to_the_optimum): LogisticRegression with
solver="newton-cholesky", tol=1e-12 on load_iris() rounded to float32 and fitted in float64, with
the same scikit-learn version (1.9.1). That fit ends at the loss's unique optimum on any CPU, so
the joblib model is the one examples/models/iris/model.onnx was converted from. Writes:

  DIR/settings.json                 host 127.0.0.1, the three ports, parallel_workers
  DIR/iris/model-settings.json      mlserver_sklearn.SKLearnModel, uri ./model.joblib (and
                                    adaptive batching when --max-batch-size is over 1)
  DIR/iris/model.joblib

and prints one JSON line {"labels": [...]} with the model's predictions for the first rows of
each class, which the harness compares with both servers' answers.
"""

from __future__ import annotations

import argparse
import json
import os

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

SEED = 20240607


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--metrics-port", type=int, required=True)
    ap.add_argument("--parallel-workers", type=int, default=1)
    ap.add_argument("--max-batch-size", type=int, default=0)
    ap.add_argument("--max-batch-time", type=float, default=0.0)
    args = ap.parse_args()

    data = load_iris()
    x = data.data.astype(np.float32)
    y = data.target
    clf = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=100, random_state=SEED)
    clf.fit(x.astype(np.float64), y)

    model_dir = os.path.join(args.out, "iris")
    os.makedirs(model_dir, exist_ok=True)
    joblib.dump(clf, os.path.join(model_dir, "model.joblib"))
    model_settings = {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "1"},
    }
    if args.max_batch_size > 1:
        model_settings["max_batch_size"] = args.max_batch_size
        model_settings["max_batch_time"] = args.max_batch_time
    with open(os.path.join(model_dir, "model-settings.json"), "w") as f:
        json.dump(model_settings, f, indent=2)
    with open(os.path.join(args.out, "settings.json"), "w") as f:
        json.dump(
            {
                "host": "127.0.0.1",
                "http_port": args.http_port,
                "grpc_port": args.grpc_port,
                "metrics_port": args.metrics_port,
                "parallel_workers": args.parallel_workers,
                "load_models_at_startup": True,
            },
            f,
            indent=2,
        )
    rows = [0, 50, 100, 25, 75, 125]
    labels = [int(v) for v in clf.predict(x[rows])]
    print(json.dumps({"rows": [x[r].tolist() for r in rows], "labels": labels}))


if __name__ == "__main__":
    main()
