"""Python side of the tree-evaluator benchmark (bench/trees/run.ts).

Trains one XGBoost and one LightGBM model (200 trees, depth 6 / 63 leaves, 20 features, 10% NaN)
on the same rows, saves them to --out, and times the library's predict on --rows rows, single
threaded and with every core, best of --repeats. Prints one JSON line.
"""

import argparse
import json
import os
import time

import lightgbm as lgb
import numpy as np
import xgboost as xgb


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(3)
    X = rng.normal(size=(args.rows, 20)).astype(np.float32)
    y = X[:, 0] * 2 - X[:, 1] + np.sin(X[:, 2] * 3) + rng.normal(scale=0.3, size=args.rows)
    X[rng.random(X.shape) < 0.1] = np.nan
    train = slice(0, min(args.rows, 20_000))
    booster = xgb.train({"max_depth": 6, "eta": 0.1, "tree_method": "hist"}, xgb.DMatrix(X[train], label=y[train]), 200)
    booster.save_model(os.path.join(args.out, "xgboost.json"))
    lgbm = lgb.train({"num_leaves": 63, "verbose": -1, "objective": "regression"}, lgb.Dataset(X[train], label=y[train]), 200)
    lgbm.save_model(os.path.join(args.out, "lightgbm.txt"))
    np.ascontiguousarray(X, dtype="<f4").tofile(os.path.join(args.out, "rows.f32"))
    result = {"rows": args.rows, "cores": os.cpu_count()}
    for threads in (1, os.cpu_count()):
        booster.set_param({"nthread": threads})
        result[f"xgboost_s_{threads}t"] = best_of(lambda: booster.inplace_predict(X), args.repeats)
        result[f"lightgbm_s_{threads}t"] = best_of(lambda: lgbm.predict(X, num_threads=threads), args.repeats)
    result["xgboost_version"] = xgb.__version__
    result["lightgbm_version"] = lgb.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
