"""Builds the model folders of MLServer's documentation walk-throughs, and a few more for content
types, with the real libraries, and records what Python predicts for the rows the tests send.

- mushroom-xgboost: binary:logistic, max_depth=2, eta=1, 2 rounds on agaricus-like data (126
  one-hot features, as the agaricus files have), saved with booster.save_model (JSON).
- iris-lgb: LightGBM multiclass (num_class 3) on sklearn's iris, saved as iris-lightgbm.bst.
- mnist-svm: svm.SVC(gamma=0.001) on sklearn's 8x8 digits (50/50 split, shuffle=False), saved with
  joblib as MLServer's walk-through does, and converted with skl2onnx next to it.
- iris-strings: LogisticRegression with string class names, converted by skl2onnx with its default
  ZipMap on the probabilities (a sequence of maps).
- text: an ONNX graph with string tensors in and out (ai.onnx.ml LabelEncoder + Identity).
- pickle-only: a joblib file and nothing else (cannot be served without Python).
- mms/: the multi-model serving layout (models/<name>/model.* without parameters.uri).

Usage: mlserver_models.py --out DIR. Writes DIR/repo/..., DIR/mms/... and prints one JSON line with
the rows and the expected outputs.
"""
import argparse
import json
import os

import joblib
import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import xgboost as xgb
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn import svm
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression


def settings(folder, name, implementation, uri=None, version="v0.1.0", extra=None):
    os.makedirs(folder, exist_ok=True)
    params = {} if version is None else {"version": version}
    if uri is not None:
        params["uri"] = uri
    doc = {"name": name, "implementation": implementation, "parameters": params}
    if extra:
        doc.update(extra)
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump(doc, f, indent=2)


def agaricus_like(rng, rows):
    """22 categorical attributes one-hot encoded into 126 columns, label from a few of them."""
    sizes = [6, 4, 10, 2, 9, 4, 3, 2, 12, 2, 7, 4, 4, 9, 9, 2, 4, 3, 8, 9, 6, 7]
    assert sum(sizes) == 126
    X = np.zeros((rows, 126), dtype=np.float32)
    codes = []
    offset = 0
    for size in sizes:
        code = rng.integers(0, size, rows)
        X[np.arange(rows), offset + code] = 1
        codes.append(code)
        offset += size
    y = ((codes[4] < 3) ^ (codes[19] % 2 == 1) | (codes[8] == 0)).astype(np.float32)
    return X, y


def mushroom(folder, filename, rng):
    X, y = agaricus_like(rng, 2000)
    booster = xgb.train(
        {"max_depth": 2, "eta": 1, "objective": "binary:logistic"}, xgb.DMatrix(X[:1600], label=y[:1600]), 2
    )
    booster.save_model(os.path.join(folder, filename))
    test = X[1600:1610].astype(np.float64)
    test_nan = test.copy()
    test_nan[0, 3] = np.nan
    test_nan[2, 10] = np.nan
    predict = lambda rows: booster.predict(xgb.DMatrix(rows.astype(np.float32))).tolist()
    # JSON has no NaN: missing values travel as null (numpy reads None as NaN for float arrays).
    nan_rows = [[None if np.isnan(v) else v for v in row] for row in test_nan.tolist()]
    return {"rows": test.tolist(), "predict": predict(test), "nan_rows": nan_rows, "nan_predict": predict(test_nan)}


def iris_lgb(folder, filename):
    iris = load_iris()
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "min_data_in_leaf": 5},
        lgb.Dataset(iris.data, label=iris.target),
        num_boost_round=20,
    )
    booster.save_model(os.path.join(folder, filename))
    rows = iris.data[[0, 1, 50, 51, 100, 149]]
    return {
        "rows": rows.tolist(),
        "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "predict": booster.predict(rows).tolist(),
    }


def mnist_svm(folder, stem):
    digits = load_digits()
    data = digits.images.reshape((len(digits.images), -1))
    half = len(data) // 2
    clf = svm.SVC(gamma=0.001)
    clf.fit(data[:half], digits.target[:half])
    joblib.dump(clf, os.path.join(folder, f"{stem}.joblib"))
    onx = to_onnx(clf, data[:1].astype(np.float32), target_opset={"": 17, "ai.onnx.ml": 3})
    with open(os.path.join(folder, f"{stem}.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    rows = data[half : half + 8]
    return {"rows": rows.tolist(), "predict": clf.predict(rows).tolist()}


def iris_strings(folder):
    iris = load_iris()
    names = np.array(iris.target_names)[iris.target]
    clf = LogisticRegression(max_iter=500).fit(iris.data, names)
    onx = to_onnx(clf, iris.data[:1].astype(np.float32), target_opset={"": 17, "ai.onnx.ml": 3})
    kinds = [o.type.WhichOneof("value") for o in onx.graph.output]
    assert kinds == ["tensor_type", "sequence_type"], kinds  # ZipMap: a sequence of maps
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    rows = iris.data[[0, 60, 120]]
    return {
        "rows": rows.tolist(),
        "predict": clf.predict(rows).tolist(),
        "predict_proba": clf.predict_proba(rows.astype(np.float32)).tolist(),
        "classes": clf.classes_.tolist(),
        "onnx_outputs": [o.name for o in onx.graph.output],
    }


def text_model(folder):
    """BYTES in, BYTES and INT64 out: ai.onnx.ml LabelEncoder (string -> int64) and an Identity."""
    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["N", 1])
    class_id = helper.make_tensor_value_info("class_id", TensorProto.INT64, ["N", 1])
    echo = helper.make_tensor_value_info("echo", TensorProto.STRING, ["N", 1])
    nodes = [
        helper.make_node(
            "LabelEncoder", ["text"], ["class_id"], domain="ai.onnx.ml",
            keys_strings=["setosa", "versicolor", "virginica"], values_int64s=[0, 1, 2], default_int64=-1,
        ),
        helper.make_node("Identity", ["text"], ["echo"]),
    ]
    graph = helper.make_graph(nodes, "text", [text], [class_id, echo])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    words = ["setosa", "virginica", "rose", "Python is fun", "émoji 😁"]
    session = ort.InferenceSession(path)
    class_ids, echoed = session.run(None, {"text": np.array(words, dtype=object).reshape(-1, 1)})
    return {"words": words, "class_id": class_ids.reshape(-1).tolist(), "echo": echoed.reshape(-1).tolist()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    rng = np.random.default_rng(11)
    repo = os.path.join(out, "repo")
    expected = {}

    folder = os.path.join(repo, "mushroom-xgboost")
    settings(folder, "mushroom-xgboost", "mlserver_xgboost.XGBoostModel", uri="./mushroom-xgboost.json")
    expected["mushroom"] = mushroom(folder, "mushroom-xgboost.json", rng)

    folder = os.path.join(repo, "iris-lgb")
    settings(folder, "iris-lgb", "mlserver_lightgbm.LightGBMModel", uri="./iris-lightgbm.bst")
    expected["iris"] = iris_lgb(folder, "iris-lightgbm.bst")

    folder = os.path.join(repo, "mnist-svm")
    settings(folder, "mnist-svm", "mlserver_sklearn.SKLearnModel", uri="./mnist-svm.joblib")
    expected["mnist"] = mnist_svm(folder, "mnist-svm")

    folder = os.path.join(repo, "iris-strings")
    settings(folder, "iris-strings", "mlserver_sklearn.SKLearnModel")
    expected["iris_strings"] = iris_strings(folder)
    os.makedirs(os.path.join(repo, "iris-strings-onnx"), exist_ok=True)
    os.link(os.path.join(folder, "model.onnx"), os.path.join(repo, "iris-strings-onnx", "model.onnx"))
    settings(os.path.join(repo, "iris-strings-onnx"), "iris-strings-onnx", "onnx", version=None)

    folder = os.path.join(repo, "text")
    settings(folder, "text", "onnx", version=None)
    expected["text"] = text_model(folder)
    os.makedirs(os.path.join(repo, "text-sk"), exist_ok=True)
    os.link(os.path.join(folder, "model.onnx"), os.path.join(repo, "text-sk", "model.onnx"))
    settings(os.path.join(repo, "text-sk"), "text-sk", "mlserver_sklearn.SKLearnModel", version=None,
             extra={"outputs": [{"name": "echo", "datatype": "BYTES", "shape": [-1, 1], "parameters": {"content_type": "str"}}]})

    folder = os.path.join(repo, "pickle-only")
    settings(folder, "pickle-only", "mlserver_sklearn.SKLearnModel", version=None)
    joblib.dump(LogisticRegression(max_iter=200).fit(load_iris().data, load_iris().target), os.path.join(folder, "model.joblib"))

    # Multi-model serving: models/<name>/model.* and no parameters.uri (MLServer's MMS example).
    mms = os.path.join(out, "mms", "models")
    settings(os.path.join(mms, "mushroom-xgboost"), "mushroom-xgboost", "mlserver_xgboost.XGBoostModel")
    expected["mms_mushroom"] = mushroom(os.path.join(mms, "mushroom-xgboost"), "model.json", np.random.default_rng(11))
    settings(os.path.join(mms, "mnist-svm"), "mnist-svm", "mlserver_sklearn.SKLearnModel")
    expected["mms_mnist"] = mnist_svm(os.path.join(mms, "mnist-svm"), "model")
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
