"""MLServer's custom-environment walk-through model, trained with the running Python's scikit-learn.

Writes `<out>/model.joblib`: an SVC (gamma=0.001) fitted on the first half of scikit-learn's
bundled 8x8 digits, pickled with joblib, as the walk-through's mnist-svm. Prints one JSON line with
the scikit-learn version, the rows the test sends (the first rows of the held-out half) and what
this scikit-learn predicts for them. Run with the Python of the environment that will serve the
pickle (TESSERA_MLSERVER_ENV_PYTHON for the old stack, TESSERA_MLSERVER_PYTHON for the new one).
"""
import argparse
import json
import os

import joblib
import sklearn
from sklearn import svm
from sklearn.datasets import load_digits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=3)
    args = parser.parse_args()
    digits = load_digits()
    data = digits.images.reshape((len(digits.images), -1))
    half = len(data) // 2
    classifier = svm.SVC(gamma=0.001)
    classifier.fit(data[:half], digits.target[:half])
    os.makedirs(args.out, exist_ok=True)
    joblib.dump(classifier, os.path.join(args.out, "model.joblib"))
    rows = data[half : half + args.rows]
    print(
        json.dumps(
            {
                "sklearn": sklearn.__version__,
                "rows": rows.tolist(),
                "predict": classifier.predict(rows).tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
