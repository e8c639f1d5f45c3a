"""What the tree-model scripts share: the training data, the labels of each objective, how a
model folder and its expected outputs are written, and how MLServer's XGBoost runtime loads a
model. Imports only numpy and xgboost, so the scripts run with any xgboost release:
tree_models.py (the main peer, xgboost 3.x) and xgboost_versions.py (older releases, each in its
own virtualenv, test/peers/xgboost-versions.peer.mjs).
"""

import base64
import json
import os

import numpy as np
import xgboost as xgb

N_NUMERIC = 6
CATEGORIES = (6, 12)


def make_data(rows, seed=7):
    """Numeric features with ~10% NaN, two categorical features (codes), some NaN too."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, N_NUMERIC))
    cats = np.column_stack([rng.integers(0, k, rows) for k in CATEGORIES]).astype(np.float64)
    X = np.column_stack([numeric, cats]).astype(np.float32)
    signal = numeric[:, 0] * 1.5 - numeric[:, 1] + np.sin(numeric[:, 2] * 2) + (cats[:, 0] % 3) - 0.2 * cats[:, 1]
    nan_mask = rng.random(X.shape) < 0.1
    X[nan_mask] = np.nan
    return X, signal, rng


def labels(signal, rng):
    """Labels for each kind of objective, from one signal: binary, 3 classes, positive, counts, [0, 1]."""
    binary = (signal + rng.normal(scale=0.5, size=signal.shape[0]) > 0.3).astype(int)
    multi = np.digitize(signal, np.quantile(signal, [0.33, 0.66]))
    return binary, multi, np.exp(signal / 3) + 0.1, rng.poisson(np.exp(signal / 4)), 1 / (1 + np.exp(-signal))


def save_case(out, name, implementation, filename, save, expected, rows, extra=None, version=None):
    folder = os.path.join(out, "models", name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename)
    save(path)
    settings = {"name": name, "implementation": implementation, "parameters": {"uri": f"./{filename}"}}
    if extra:
        settings["parameters"]["extra"] = extra
    if version:
        settings["parameters"]["version"] = version
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump(settings, f)
    outputs = expected(path)
    doc = {
        "rows": int(rows.shape[0]),
        "features": int(rows.shape[1]),
        "data": base64.b64encode(np.ascontiguousarray(rows, dtype="<f4").tobytes()).decode(),
        "outputs": {
            k: {"dtype": str(v.dtype), "shape": list(v.shape), "data": v.astype(np.float64).ravel().tolist()}
            for k, v in outputs.items()
        },
    }
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    with open(os.path.join(out, "expected", f"{name}.json"), "w") as f:
        json.dump(doc, f)


def mlserver_xgboost(path):
    """mlserver_xgboost._load_sklearn_interface."""
    try:
        model = xgb.XGBRegressor()
        model.load_model(path)
    except TypeError:
        model = xgb.XGBClassifier()
        model.load_model(path)
    return model


def xgb_expected(rows):
    def expected(path):
        model = mlserver_xgboost(path)
        outputs = {"predict": np.asarray(model.predict(rows))}
        if isinstance(model, xgb.XGBClassifier):
            outputs["predict_proba"] = np.asarray(model.predict_proba(rows))
        return outputs

    return expected


FEATURE_TYPES = ["q"] * N_NUMERIC + ["c"] * len(CATEGORIES)
