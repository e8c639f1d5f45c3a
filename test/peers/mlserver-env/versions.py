"""A custom MLServer runtime that answers with the versions its worker imports.

Served beside the walk-through model in the same environment, it shows which environment a
worker runs: output `versions` (BYTES) holds "scikit-learn <version>" and "mlserver <version>".
"""
import mlserver
import sklearn
from mlserver import MLModel
from mlserver.codecs import StringCodec
from mlserver.types import InferenceRequest, InferenceResponse


class Versions(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        values = [f"scikit-learn {sklearn.__version__}", f"mlserver {mlserver.__version__}"]
        return InferenceResponse(
            model_name=self.name,
            outputs=[StringCodec.encode_output("versions", values)],
        )
