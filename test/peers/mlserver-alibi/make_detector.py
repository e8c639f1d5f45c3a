"""Builds an Alibi Detect drift detector and the model folder MLServer's Alibi Detect runtime serves.

A Kolmogorov-Smirnov feature drift detector (alibi_detect.cd.KSDrift) on 200 reference rows of
three standard-normal features from a fixed seed, saved with alibi_detect.saving.save_detector
into `<out>/drift/detector`, and a model-settings.json as in MLServer's Alibi Detect example
(`uri` the saved detector, `predict_parameters.drift_type: "feature"`). Prints one JSON line: two
batches the test sends (one from the reference distribution, one shifted by 1.5) and what the
detector itself answers for them (`is_drift` per feature), the reference both servers must match.
"""
import argparse
import json
import os

import numpy as np
from alibi_detect.cd import KSDrift
from alibi_detect.saving import save_detector


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    folder = os.path.join(args.out, "drift")
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 3)).astype(np.float32)
    detector = KSDrift(reference, p_val=0.05)
    save_detector(detector, os.path.join(folder, "detector"))
    settings = {
        "name": "drift",
        "implementation": "mlserver_alibi_detect.AlibiDetectRuntime",
        "parameters": {
            "uri": "./detector",
            "extra": {"predict_parameters": {"drift_type": "feature"}},
        },
    }
    with open(os.path.join(folder, "model-settings.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f)
    same = rng.normal(size=(50, 3)).astype(np.float32)
    shifted = (rng.normal(size=(50, 3)) + 1.5).astype(np.float32)
    batches = {"same": same, "shifted": shifted}
    expected = {
        name: detector.predict(batch, drift_type="feature")["data"]["is_drift"].tolist()
        for name, batch in batches.items()
    }
    print(
        json.dumps(
            {
                "batches": {name: batch.tolist() for name, batch in batches.items()},
                "expected": expected,
            }
        )
    )


if __name__ == "__main__":
    main()
