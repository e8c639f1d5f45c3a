"""Builds an Alibi anchor explainer for a V2 iris classifier and the folder MLServer's Alibi
Explain runtime serves (black-box: the explainer asks the classifier over V2 at `infer_uri`)."""
import argparse
import json
import os

import numpy as np
from alibi.explainers import AnchorTabular
from sklearn.datasets import load_iris

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--infer-uri", required=True)
    args = parser.parse_args()
    folder = os.path.join(args.out, "iris-explainer")
    data = load_iris().data.astype(np.float32)

    # Only the shape of the predictor's answer matters here (alibi calls it once on a dummy row);
    # the served explainer gets the remote classifier instead.
    def shape_only(x):
        return np.zeros(len(x), dtype=np.int64)

    explainer = AnchorTabular(shape_only, feature_names=FEATURES, seed=0)
    explainer.fit(data, disc_perc=(25, 50, 75))
    explainer.save(os.path.join(folder, "explainer"))
    settings = {
        "name": "iris-explainer",
        "implementation": "mlserver_alibi_explain.AlibiExplainRuntime",
        "parameters": {
            "uri": "./explainer",
            "extra": {"explainer_type": "anchor_tabular", "infer_uri": args.infer_uri},
        },
    }
    with open(os.path.join(folder, "model-settings.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f)
    print(json.dumps({"rows": data[[0, 75, 140]].tolist(), "features": FEATURES}))


if __name__ == "__main__":
    main()
