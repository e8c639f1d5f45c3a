"""Trains real models with the xgboost release it runs under and records what that release predicts.

Run with an older release's interpreter (test/peers/xgboost-versions.peer.mjs:
TESSERA_XGBOOST_1_7_PYTHON, TESSERA_XGBOOST_2_1_PYTHON); used by
test/integration/server/xgboost-versions.test.ts. Each model is saved twice, as JSON and as UBJSON,
into <out>/models/xgb-<release>-<case>-<json|ubj>/ with <out>/expected/<name>.json holding the rows
and the outputs (loaded the way MLServer's XGBoost runtime loads them, as tree_models.py does).
It also writes the release's legacy binary format (1.7: `save_model("model.bst")`; 2.x:
`save_model("model.deprecated")`, renamed model.bst) into <out>/models/xgb-<release>-legacy-binary/,
checked to start with the format's `binf` header and to load back in that release. Prints one
JSON line: {"xgboost": version, "models": [names], "legacy": name}.

    python xgboost_versions.py --out DIR [--rows N]
"""

import argparse
import json
import os
import warnings

import numpy as np
import xgboost as xgb

from tree_cases import FEATURE_TYPES, labels, make_data, save_case, xgb_expected

warnings.filterwarnings("ignore")
RELEASE = ".".join(xgb.__version__.split(".")[:2])
COMMON = dict(max_depth=4, learning_rate=0.3, tree_method="hist")


def cases(X, signal, rng):
    """(case, build) pairs; build() trains the model, returns (save_model, implementation)."""
    n = X.shape[0]
    binary, multi, _positive, _counts, _unit = labels(signal, rng)
    split = n * 3 // 4

    def sk(model, y, fit=None):
        def build():
            (fit or (lambda m: m.fit(X, y)))(model)
            return model.save_model, "mlserver_xgboost.XGBoostModel"

        return build

    def booster(params, y, rounds=12, categorical=False):
        def build():
            dm = (
                xgb.DMatrix(X, label=y, feature_types=FEATURE_TYPES, enable_categorical=True)
                if categorical
                else xgb.DMatrix(X, label=y)
            )
            b = xgb.train({**COMMON, **params}, dm, rounds)
            return b.save_model, "xgboost"

        return build

    early = xgb.XGBRegressor(n_estimators=200, early_stopping_rounds=5, **COMMON)
    return [
        ("binary-logistic", sk(xgb.XGBClassifier(n_estimators=20, **COMMON), binary)),
        ("multi-softprob", sk(xgb.XGBClassifier(n_estimators=15, **COMMON), multi)),
        ("reg-squarederror", booster({"objective": "reg:squarederror"}, signal)),
        (
            "reg-early-stop",
            sk(
                early,
                signal,
                fit=lambda m: m.fit(X[:split], signal[:split], eval_set=[(X[split:], signal[split:])], verbose=False),
            ),
        ),
        (
            "categorical",
            booster({"objective": "binary:logistic", "max_cat_to_onehot": 1}, binary, categorical=True),
        ),
        (
            "dart",
            booster({"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "skip_drop": 0.0}, binary),
        ),
    ]


def legacy_binary(out, X, binary):
    """The release's deprecated binary format, as model.bst; returns the model name."""
    name = f"xgb-{RELEASE}-legacy-binary"
    folder = os.path.join(out, "models", name)
    os.makedirs(folder, exist_ok=True)
    b = xgb.train({**COMMON, "objective": "binary:logistic"}, xgb.DMatrix(X, label=binary), 5)
    path = os.path.join(folder, "model.bst")
    if RELEASE.startswith("1."):
        b.save_model(path)  # 1.x: any name but .json/.ubj is the binary format
    else:
        b.save_model(os.path.join(folder, "model.deprecated"))  # 2.1 writes UBJSON for .bst
        os.replace(os.path.join(folder, "model.deprecated"), path)
    with open(path, "rb") as f:
        if f.read(4) != b"binf":
            raise SystemExit(f"{path}: xgboost {xgb.__version__} did not write the legacy binary format")
    back = xgb.Booster()
    back.load_model(path)
    if not np.allclose(back.predict(xgb.DMatrix(X[:20])), b.predict(xgb.DMatrix(X[:20]))):
        raise SystemExit(f"{path}: the legacy binary model does not load back with the same predictions")
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump({"name": name, "implementation": "xgboost", "parameters": {"uri": "./model.bst"}}, f)
    return name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=600)
    args = parser.parse_args()
    X, signal, rng = make_data(args.rows)
    names = []
    for case, build in cases(X, signal, rng):
        save, implementation = build()
        for encoding in ("json", "ubj"):
            name = f"xgb-{RELEASE}-{case}-{encoding}"
            save_case(args.out, name, implementation, f"model.{encoding}", save, xgb_expected(X), X)
            names.append(name)
    legacy = legacy_binary(args.out, X, (signal > 0.3).astype(int))
    print(json.dumps({"xgboost": xgb.__version__, "models": names, "legacy": legacy}))


if __name__ == "__main__":
    main()
