"""Converts a TF.js layers model (model.json + weight shards) into a Keras 3 .keras file.

bench/peer.mjs's fallback when runtime/scripts/reference-models.mjs (the project's own
conversion) is not there: the topology is Keras JSON already (modelTopology.model_config),
so keras.models.model_from_json builds the model, and the weights are read from the shards
as the weightsManifest lays them out (uint8/uint16 quantized ones dequantized as TF.js
does: min + scale * q, or by the table of a float16 quantization) and set by variable path.

    python layers_to_keras.py MODEL_DIR OUT.keras
"""
import json
import os
import sys

import numpy as np
import keras

DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16, "bool": np.bool_}


def read_weights(model_dir, manifest):
    weights = {}
    for group in manifest:
        data = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            dtype = DTYPES[q["dtype"] if q else spec["dtype"]]
            size = count * np.dtype(dtype).itemsize
            values = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
            offset += size
            if q and "min" in q:
                values = q["min"] + q["scale"] * values.astype(np.float32)
            weights[spec["name"]] = values.astype(DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return weights


def main(model_dir, out):
    spec = json.load(open(os.path.join(model_dir, "model.json")))
    topology = spec["modelTopology"]
    config = topology.get("model_config", topology)
    # Keras 2 (TF.js) configs name a functional model "Model", which Keras 3 deserializes as
    # Functional: from_config reads the legacy inbound_nodes lists itself.
    if config["class_name"] in ("Model", "Functional"):
        model = keras.Model.from_config(config["config"])
    else:
        model = keras.Sequential.from_config(config["config"])
    weights = read_weights(model_dir, spec["weightsManifest"])
    def source(v):
        # Keras 3 calls DepthwiseConv2D's weight "kernel"; Keras 2 and TF.js "depthwise_kernel".
        for name in (v.path, v.path.replace("/kernel", "/depthwise_kernel")):
            if name in weights:
                return name
        return None

    missing = [v.path for v in model.weights if source(v) is None]
    if missing:
        raise SystemExit(f"weights missing from the manifest: {missing[:5]}")
    used = {source(v) for v in model.weights}
    unused = sorted(set(weights) - used)
    if unused:
        raise SystemExit(f"manifest weights the model has no place for: {unused[:5]}")
    for v in model.weights:
        v.assign(weights[source(v)])
    tmp = out + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, out)
    print(json.dumps({"keras": out, "weights": len(model.weights), "keras_version": keras.__version__}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
