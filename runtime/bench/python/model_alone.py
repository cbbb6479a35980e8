"""The peer's model alone, no server (bench/peer.mjs): warm ms per call at batch sizes 1, 4, 8
and 16 for model.predict(x) (what peer_app.py calls) and for model(x, training=False) (the
direct call Keras recommends for small batches), on random input; the two alternate call by
call, so other work on the machine lands on both alike. Prints one JSON object.

    python model_alone.py MODEL.keras
"""
import json
import statistics
import sys
import time

import numpy as np
import tensorflow as tf

model = tf.keras.models.load_model(sys.argv[1], compile=False)
out = {"predict": {}, "call": {}, "tensorflow": tf.__version__}
for n in (1, 4, 8, 16):
    x = np.random.default_rng(7).random((n, 224, 224, 3), dtype=np.float32)
    ways = {"predict": lambda: model.predict(x, verbose=0), "call": lambda: np.asarray(model(x, training=False))}
    times = {k: [] for k in ways}
    for i in range(3 + max(8, 64 // n)):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            if i >= 3:
                times[name].append((time.perf_counter() - t0) * 1000)
    for name in ways:
        out[name][n] = statistics.median(times[name])
print(json.dumps(out))
