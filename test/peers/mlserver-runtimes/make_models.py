"""Builds MLflow and CatBoost model folders for MLServer's own runtimes, with the real libraries.

Run with TESSERA_MLSERVER_RUNTIMES_PYTHON (test/peers/mlserver-runtimes.peer.mjs): the models must
be read by the mlflow and catboost that wrote them. Writes under `<out>`:

- `mlflow-columns/`: a scikit-learn LogisticRegression on iris saved with mlflow.sklearn.save_model
  and a column-based signature (a DataFrame of four named FP64 columns), so MLServer's
  MLflowRuntime decodes requests with the pandas codec ("pd", from the signature);
- `mlflow-tensor/`: the same estimator with a tensor signature (one FP64 [-1, 4] input, "np");
- `mlflow-frame/`: an mlflow.pyfunc PythonModel answering a DataFrame with a string column and a
  float column (MLServer encodes it with the pandas codec: BYTES and FP64 outputs);
- `catboost-ints/` and `catboost-strings/`: CatBoostClassifier models (`model.cbm`) on iris with
  integer labels and with the species names as labels (string predictions).

Each folder has its model-settings.json. Prints one JSON line: the library versions and the rows.
"""
import argparse
import json
import os

import catboost
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
import sklearn
from catboost import CatBoostClassifier
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = [0, 60, 120, 149]
# Written into MLmodel's requirements as they are; saying them skips mlflow's inference of the
# requirements (which imports the model in a subprocess) and no environment is built from them.
REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"]


class FrameModel(mlflow.pyfunc.PythonModel):
    """A pyfunc answering a DataFrame: the petal area and a size word per row."""

    def predict(self, context, model_input, params=None):
        area = model_input["petal_length"] * model_input["petal_width"]
        words = ["large" if a > 5 else "small" for a in area]
        return pd.DataFrame({"size": words, "area": area.astype("float64")})


def write_settings(folder, name, implementation, uri):
    with open(os.path.join(folder, "model-settings.json"), "w", encoding="utf-8") as handle:
        json.dump({"name": name, "implementation": implementation, "parameters": {"uri": uri}}, handle)


def mlflow_models(out, frame, y):
    for name, features in (("mlflow-columns", frame), ("mlflow-tensor", frame.to_numpy())):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        estimator = LogisticRegression(max_iter=1000).fit(features, y)
        signature = infer_signature(features, estimator.predict(features))
        mlflow.sklearn.save_model(
            estimator, os.path.join(folder, "model"), signature=signature, pip_requirements=REQUIREMENTS
        )
        write_settings(folder, name, "mlserver_mlflow.MLflowRuntime", "./model")
    folder = os.path.join(out, "mlflow-frame")
    os.makedirs(folder)
    sample = frame.iloc[ROWS]
    mlflow.pyfunc.save_model(
        os.path.join(folder, "model"),
        python_model=FrameModel(),
        signature=infer_signature(sample, FrameModel().predict(None, sample)),
        pip_requirements=REQUIREMENTS,
    )
    write_settings(folder, "mlflow-frame", "mlserver_mlflow.MLflowRuntime", "./model")


def catboost_models(out, features, y, names):
    for name, labels in (("catboost-ints", y), ("catboost-strings", names[y])):
        folder = os.path.join(out, name)
        os.makedirs(folder)
        model = CatBoostClassifier(
            iterations=30, depth=3, random_seed=0, verbose=False, thread_count=1, allow_writing_files=False
        )
        model.fit(features, labels)
        model.save_model(os.path.join(folder, "model.cbm"))
        write_settings(folder, name, "mlserver_catboost.CatboostModel", "./model.cbm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # mlflow may create ./mlruns: keep whatever it writes out of the caller's folder.
    os.chdir(args.out)
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=COLUMNS)
    mlflow_models(args.out, frame, iris.target)
    catboost_models(args.out, iris.data, iris.target, iris.target_names)
    print(
        json.dumps(
            {
                "mlflow": mlflow.__version__,
                "catboost": catboost.__version__,
                "sklearn": sklearn.__version__,
                "columns": COLUMNS,
                "rows": iris.data[ROWS].tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
