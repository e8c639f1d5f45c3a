"""Writes real model files whose memory the server's runtimes report, with what that must be.

Used by test/integration/server/memory-report.test.ts and test/e2e/lifecycle/reported-memory.test.ts:

    python memory_models.py --out DIR [--weights-mib N]

writes
  DIR/xgboost/model.json   a small XGBoost binary classifier (JSON), trained by xgboost
  DIR/lightgbm/model.txt   a small LightGBM regressor (text), trained by lightgbm
  DIR/wide/model.onnx      an ONNX model (onnx.helper) whose MatMul weights take N MiB (default 1):
                           input `input` FP32 [-1, 4] -> output `total` FP32 [-1, 1], the sum of
                           input @ W with W all 1/1024
and prints one JSON line: {"xgboost": {"internal", "leaves", "trees", "groups"},
"lightgbm": {"internal", "leaves", "trees"}} counted from the files as the libraries wrote them,
for the test's own arithmetic of the bytes the tree runtimes hold.
"""

import argparse
import json
import os
import warnings

import lightgbm as lgb
import numpy as np
import onnx
import xgboost as xgb
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")


def data(rows=400, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5)).astype(np.float32)
    y = X[:, 0] * 2 - X[:, 1] + np.sin(X[:, 2])
    return X, y


def xgboost_model(folder):
    X, y = data()
    model = xgb.XGBClassifier(n_estimators=6, max_depth=3, objective="binary:logistic")
    model.fit(X, (y > 0).astype(int))
    path = os.path.join(folder, "model.json")
    model.save_model(path)
    with open(path) as f:
        doc = json.load(f)
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    internal = sum(sum(1 for c in t["left_children"] if c != -1) for t in trees)
    leaves = sum(sum(1 for c in t["left_children"] if c == -1) for t in trees)
    return {"internal": internal, "leaves": leaves, "trees": len(trees), "groups": 1}


def lightgbm_model(folder):
    X, y = data()
    booster = lgb.train(
        {"objective": "regression", "num_leaves": 7, "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(X, y),
        num_boost_round=5,
    )
    path = os.path.join(folder, "model.txt")
    booster.save_model(path)
    leaves = []
    with open(path) as f:
        for line in f:
            if line.startswith("num_leaves="):
                leaves.append(int(line.split("=", 1)[1]))
    return {"internal": sum(n - 1 for n in leaves), "leaves": sum(leaves), "trees": len(leaves)}


def wide_onnx(folder, weights_mib):
    columns = weights_mib * 1024 * 1024 // (4 * 4)
    weights = np.full((4, columns), 1 / 1024, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "W"], ["wide"]),
            helper.make_node("ReduceSum", ["wide", "axes"], ["total"], keepdims=1),
        ],
        "wide",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(folder, "model.onnx"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights-mib", type=int, default=1)
    args = parser.parse_args()
    counts = {}
    for name, make in (("xgboost", xgboost_model), ("lightgbm", lightgbm_model)):
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        counts[name] = make(folder)
    wide = os.path.join(args.out, "wide")
    os.makedirs(wide, exist_ok=True)
    wide_onnx(wide, args.weights_mib)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
