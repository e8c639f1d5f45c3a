"""Trains the Python worker's scikit-learn model with the mlserver virtualenv's own scikit-learn.

Writes `<out>/model.joblib` (a LogisticRegression on iris, pickled with joblib as MLServer's
walk-through does) and prints one JSON line: the rows the test sends and what scikit-learn itself
answers for them (`predict`, `predict_proba`), so the test compares the server with the library.
Run with TESSERA_MLSERVER_PYTHON (test/peers/mlserver.peer.mjs), which has mlserver-sklearn: the
pickle must be read by the scikit-learn that wrote it.
"""
import argparse
import json
import os

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    os.makedirs(args.out, exist_ok=True)
    joblib.dump(model, os.path.join(args.out, "model.joblib"))
    rows = X[[0, 60, 120]]
    print(
        json.dumps(
            {
                "sklearn": sklearn.__version__,
                "rows": rows.tolist(),
                "predict": model.predict(rows).tolist(),
                "predict_proba": model.predict_proba(rows).tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
