"""Trains small real XGBoost and LightGBM models and records what the libraries predict.

Used by test/integration/server/tree-runtimes.test.ts (and bench/server/trees.mjs): for each
model, writes <out>/models/<name>/{model file, model-settings.json} and <out>/expected/<name>.json
with the rows sent (float32, base64, NaNs included) and the outputs Python gives, loaded the way
MLServer's runtimes load them (mlserver_xgboost: XGBRegressor, else XGBClassifier, `load_model`;
mlserver_lightgbm: `lgb.Booster(model_file=...)`). <out>/artefacts/model.joblib is a pickled
scikit-learn model, for the tests of files the tree runtimes cannot read.

    python tree_models.py --out DIR [--rows N]
"""

import argparse
import json
import os
import warnings

import lightgbm as lgb
import numpy as np
import xgboost as xgb
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tree_cases import FEATURE_TYPES, N_NUMERIC, CATEGORIES, labels, make_data, save_case, xgb_expected

warnings.filterwarnings("ignore")


def lgb_expected(rows, classifier):
    def expected(path):
        booster = lgb.Booster(model_file=path)
        p = booster.predict(rows)
        outputs = {"predict": p}
        if classifier:
            outputs["predict_proba"] = np.column_stack([1 - p, p]) if p.ndim == 1 else p
        return outputs

    return expected


def xgboost_cases(out, X, signal, rng):
    n = X.shape[0]
    binary, multi, positive, counts, unit = labels(signal, rng)
    common = dict(max_depth=4, learning_rate=0.3, tree_method="hist")
    cat = dict(enable_categorical=True, feature_types=FEATURE_TYPES, max_cat_to_onehot=1)

    def sk(name, model, y, filename="model.json", fit=None, rows=X, **extra):
        (fit or (lambda m: m.fit(rows, y)))(model)
        save_case(out, name, "mlserver_xgboost.XGBoostModel", filename, model.save_model, xgb_expected(rows), rows, extra or None)

    def booster(name, params, y, rounds=12, filename="model.json", group=None, dmatrix=None):
        dm = dmatrix or xgb.DMatrix(X, label=y, feature_types=FEATURE_TYPES, enable_categorical=True)
        if group is not None:
            dm.set_group(group)
        b = xgb.train({**common, "max_cat_to_onehot": 1, **params}, dm, rounds)
        save_case(out, name, "xgboost", filename, b.save_model, xgb_expected(X), X)

    sk("xgb-binary-logistic", xgb.XGBClassifier(n_estimators=20, **common, **cat), binary)
    sk("xgb-binary-logistic-ubj", xgb.XGBClassifier(n_estimators=20, **common, **cat), binary, "model.ubj")
    sk("xgb-multi-softprob", xgb.XGBClassifier(n_estimators=15, **common, **cat), multi)
    sk("xgb-multi-softmax", xgb.XGBClassifier(n_estimators=15, objective="multi:softmax", **common, **cat), multi)
    split = n * 3 // 4
    sk(
        "xgb-reg-squarederror-early-stop",
        xgb.XGBRegressor(n_estimators=200, early_stopping_rounds=5, **common, **cat),
        signal,
        fit=lambda m: m.fit(X[:split], signal[:split], eval_set=[(X[split:], signal[split:])], verbose=False),
    )
    missing_rows = np.where(np.isnan(X), np.float32(-999.0), X)
    sk("xgb-reg-missing-value", xgb.XGBRegressor(n_estimators=10, missing=-999.0, **common), signal, rows=missing_rows)
    booster("xgb-binary-logitraw", {"objective": "binary:logitraw"}, binary)
    booster("xgb-binary-hinge", {"objective": "binary:hinge"}, binary)
    booster("xgb-reg-logistic", {"objective": "reg:logistic"}, unit)
    booster("xgb-reg-pseudohubererror", {"objective": "reg:pseudohubererror"}, signal)
    booster("xgb-reg-absoluteerror", {"objective": "reg:absoluteerror"}, signal)
    booster("xgb-count-poisson", {"objective": "count:poisson"}, counts)
    booster("xgb-reg-gamma", {"objective": "reg:gamma"}, positive)
    booster("xgb-reg-tweedie", {"objective": "reg:tweedie", "tweedie_variance_power": 1.3}, counts)
    booster("xgb-rank-pairwise", {"objective": "rank:pairwise"}, multi, group=[n // 2, n - n // 2])
    booster("xgb-rank-ndcg", {"objective": "rank:ndcg"}, multi, group=[n // 2, n - n // 2])
    booster("xgb-dart", {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0}, binary)
    booster("xgb-forest", {"objective": "reg:squarederror", "num_parallel_tree": 3, "subsample": 0.8, "colsample_bynode": 0.8}, signal, rounds=4)
    booster("xgb-ubj-softprob", {"objective": "multi:softprob", "num_class": 3}, multi, filename="model.ubj")
    targets = np.column_stack([signal, unit])
    sk(
        "xgb-multi-output-tree",
        xgb.XGBRegressor(n_estimators=8, multi_strategy="multi_output_tree", **common),
        targets,
        rows=X[:, :N_NUMERIC],
    )


def lightgbm_cases(out, X, signal, rng):
    n = X.shape[0]
    binary, multi, positive, counts, unit = labels(signal, rng)
    cats = list(range(N_NUMERIC, N_NUMERIC + len(CATEGORIES)))

    def case(name, params, y, rounds=15, classifier=False, rows=X, categorical=cats, valid=None, train=None):
        ds = lgb.Dataset(rows if train is None else train, label=y, categorical_feature=categorical, free_raw_data=False)
        kwargs = {}
        if valid is not None:
            kwargs = dict(valid_sets=[lgb.Dataset(valid[0], label=valid[1], reference=ds)], callbacks=[lgb.early_stopping(3, verbose=False)])
        b = lgb.train({"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 10, "seed": 1, **params}, ds, rounds, **kwargs)
        save_case(out, name, "mlserver_lightgbm.LightGBMModel", "model.txt", b.save_model, lgb_expected(rows, classifier), rows)

    case("lgb-binary", {"objective": "binary"}, binary, classifier=True)
    case("lgb-multiclass", {"objective": "multiclass", "num_class": 3}, multi, classifier=True)
    case("lgb-multiclassova", {"objective": "multiclassova", "num_class": 3}, multi, classifier=True)
    case("lgb-regression", {"objective": "regression"}, signal)
    case("lgb-regression-l1", {"objective": "regression_l1"}, signal)
    case("lgb-huber", {"objective": "huber"}, signal)
    case("lgb-quantile", {"objective": "quantile", "alpha": 0.8}, signal)
    case("lgb-poisson", {"objective": "poisson"}, counts)
    case("lgb-gamma", {"objective": "gamma"}, positive)
    case("lgb-tweedie", {"objective": "tweedie"}, counts)
    case("lgb-cross-entropy", {"objective": "cross_entropy"}, unit)
    case("lgb-zero-as-missing", {"objective": "regression", "zero_as_missing": True}, signal, rows=np.nan_to_num(X, nan=0.0))
    case("lgb-no-missing", {"objective": "regression", "use_missing": False}, signal)
    split = n * 3 // 4
    case("lgb-early-stop", {"objective": "regression"}, signal[:split], rounds=300, train=X[:split], valid=(X[split:], signal[split:]))
    case("lgb-linear-tree", {"objective": "regression", "linear_tree": True}, signal, rows=X[:, :N_NUMERIC], categorical=[])


def walkthroughs(out, rng):
    """MLServer's documented examples: mushroom-xgboost (agaricus-like) and iris-lightgbm."""
    # agaricus.txt.train is 126 one-hot columns; a like-shaped set with a learnable rule.
    n = 1200
    X = (rng.random((n, 126)) < 0.1).astype(np.float32)
    y = ((X[:, 28] + X[:, 55] + X[:, 108]) >= 1).astype(int)
    b = xgb.train({"max_depth": 2, "eta": 1, "objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 2)
    rows = X[:5]
    save_case(out, "mushroom-xgboost", "mlserver_xgboost.XGBoostModel", "mushroom-xgboost.json", b.save_model, xgb_expected(rows), rows, version="v0.1.0")
    iris = load_iris()
    data = iris.data.astype(np.float32)
    ds = lgb.Dataset(data, label=iris.target)
    b = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1, "metric": "multi_logloss"}, ds, 50)
    save_case(out, "iris-lgb", "mlserver_lightgbm.LightGBMModel", "iris-lightgbm.bst", b.save_model, lgb_expected(data[:3], True), data[:3], version="v0.1.0")
    # A scikit-learn model pickled with joblib, as MLServer's sklearn runtime would serve it.
    os.makedirs(os.path.join(out, "artefacts"), exist_ok=True)
    joblib.dump(LogisticRegression(max_iter=200).fit(data, iris.target), os.path.join(out, "artefacts", "model.joblib"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--only", choices=["xgboost", "lightgbm", "walkthroughs"])
    args = parser.parse_args()
    X, signal, rng = make_data(args.rows)
    if args.only in (None, "xgboost"):
        xgboost_cases(args.out, X, signal, rng)
    if args.only in (None, "lightgbm"):
        lightgbm_cases(args.out, X, signal, rng)
    if args.only in (None, "walkthroughs"):
        walkthroughs(args.out, rng)
    print(json.dumps({"ok": True, "xgboost": xgb.__version__, "lightgbm": lgb.__version__}))


if __name__ == "__main__":
    main()
