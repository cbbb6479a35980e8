"""The Python peer of bench/peer.mjs: the plain alternative a TensorFlow user would run.

A Keras model loaded once with tf.keras.models.load_model, behind Flask:
POST /classify with the image's bytes as the body answers the top-k labels as JSON, in the
shape our /classify answers ({"predictions": [{"label", "score"}, ...]}). Preprocessing is
the one the demo model (nsfwjs's MobileNetV2) was made for, as our task.json says: RGB,
bilinear resize to 224x224 with aligned corners (TF.js resizeBilinear(alignCorners=true),
here tf.compat.v1.image.resize_bilinear), values / 255. No warm-up at start: a user's app
does not have one (the first request pays the first predict).

Configuration (environment): PEER_MODEL (a .keras or .h5 file, or a SavedModel folder
loaded with keras.layers.TFSMLayer), PEER_TASK (our task JSON: labels, inputSize, topK).

    gunicorn -w 1 -k gthread --threads 4 -b 127.0.0.1:8000 peer_app:app
    python peer_app.py --port 8000          Flask's development server (threaded)
"""
import io
import json
import os
import sys
import time

# PEER_PHASES=1 (bench/peer.mjs): wall-clock marks of the cold start on stderr, in epoch ms.
PHASES = os.environ.get("PEER_PHASES") == "1"


def mark(**phase):
    if PHASES:
        print("PEER_PHASES " + json.dumps({k: v * 1000 for k, v in phase.items()}), file=sys.stderr, flush=True)


mark(start=time.time())

import numpy as np
import tensorflow as tf
from flask import Flask, jsonify, request
from PIL import Image

mark(tfImported=time.time())

TASK = json.loads(os.environ["PEER_TASK"])
LABELS = TASK["labels"]
SIZE = int(TASK.get("inputSize", 224))
TOP_K = int(TASK.get("topK", 5))

model = tf.keras.models.load_model(os.environ["PEER_MODEL"], compile=False)
mark(modelLoadedPeer=time.time())
app = Flask(__name__)
first_done = False


@app.post("/classify")
def classify():
    t0 = time.perf_counter()
    try:
        image = Image.open(io.BytesIO(request.get_data())).convert("RGB")
    except Exception as err:  # not an image: the client's fault
        return jsonify(error=str(err)), 400
    pixels = np.asarray(image, dtype=np.float32)[np.newaxis]
    t1 = time.perf_counter()
    x = tf.compat.v1.image.resize_bilinear(pixels, [SIZE, SIZE], align_corners=True) / 255.0
    t2 = time.perf_counter()
    scores = model.predict(x, verbose=0)[0]
    t3 = time.perf_counter()
    top = np.argsort(-scores)[:TOP_K]
    global first_done
    if not first_done:
        first_done = True
        mark(firstPredictDone=time.time())
    response = jsonify(predictions=[{"label": LABELS[i], "score": float(scores[i])} for i in top])
    if PHASES:  # the bench's split of the request: decode, resize, predict (ms)
        response.headers["X-Peer-Ms"] = f"{(t1 - t0) * 1000:.2f},{(t2 - t1) * 1000:.2f},{(t3 - t2) * 1000:.2f}"
    return response


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 8000
    app.run(host="127.0.0.1", port=port, threaded=True)
