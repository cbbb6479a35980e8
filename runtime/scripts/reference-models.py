"""Makes the demo model's other formats and Python TensorFlow's own answers for the samples.

Run by reference-models.mjs inside its pinned virtual environment (TensorFlow, tf-keras and
tensorflowjs); not meant to be run by hand. From the legacy Keras HDF5 file that
`tensorflowjs_converter --input_format tfjs_layers_model --output_format keras` made of the
TF.js layers model (OUT/mobilenet_v2.h5), it writes into OUT:

  mobilenet_v2.keras   the Keras v3 zip format, saved by tf.keras from the .h5
  saved_model/         model.export(): a SavedModel with a `serving_default` signature
  reference.json       tf.keras's predictions for every photo in SAMPLES

Python TF's own preprocessing, as the demo task (task.json) states it: decode with
tf.io.decode_jpeg (dct_method INTEGER_ACCURATE) or tf.io.decode_image (3 channels: a grey
photo is expanded), bilinear resize to the input size,
then /255. Two resize variants are recorded: `alignCorners` (the demo task's, TF1's
tf.compat.v1.image.resize_bilinear(align_corners=True)) and `halfPixelCenters` (TF2's
tf.image.resize, what a TF2 pipeline does by default).

This process does not import tensorflowjs: with it (and the jax and TF Decision Forests it
imports) loaded, tf.keras's predict() spins without end on TF 2.15.

Usage: python reference-models.py TASK_JSON SAMPLES_DIR OUT
"""
import json
import os
import sys

import numpy as np
import tensorflow as tf

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.gif', '.bmp')


def log(message):
    # stdout: reference-models.mjs shows it as progress.
    print(f'reference-models.py: {message}', flush=True)


def preprocess(path, size, variant):
    data = tf.io.read_file(path)
    if path.lower().endswith(('.jpg', '.jpeg')):
        # The accurate integer IDCT, libjpeg's own default: decode_jpeg's default ('') is the
        # fast one, up to 6 levels off per pixel on these photos (3.7e-3 in probability).
        image = tf.io.decode_jpeg(data, channels=3, dct_method='INTEGER_ACCURATE')
    else:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    batch = tf.expand_dims(tf.cast(image, tf.float32), 0)
    if variant == 'alignCorners':
        resized = tf.compat.v1.image.resize_bilinear(batch, [size, size], align_corners=True)
    else:
        resized = tf.image.resize(batch, [size, size], method='bilinear')
    return resized / 255.0


def main(task_json, samples_dir, out):
    with open(task_json, encoding='utf8') as f:
        task = json.load(f)
    size = task['inputSize']
    labels = task['labels']
    h5 = os.path.join(out, 'mobilenet_v2.h5')
    # What a TensorFlow user does: tf.keras loads the file it was given.
    model = tf.keras.models.load_model(h5, compile=False)
    keras_file = os.path.join(out, 'mobilenet_v2.keras')
    log('saving the .keras file')
    model.save(keras_file)
    saved_model = os.path.join(out, 'saved_model')
    log('exporting the SavedModel')
    model.export(saved_model)

    photos = sorted(n for n in os.listdir(samples_dir) if n.lower().endswith(IMAGE_SUFFIXES))
    reloaded = tf.keras.models.load_model(keras_file, compile=False)
    reference = {
        'model': 'mobilenet_v2.keras',
        'tensorflow': tf.__version__,
        'inputSize': size,
        'normalization': 'zero-one',
        'decoding': "tf.io.decode_jpeg(dct_method='INTEGER_ACCURATE') for JPEG, else tf.io.decode_image; 3 channels",
        'labels': labels,
        'variants': {},
    }
    for variant in ('alignCorners', 'halfPixelCenters'):
        batch = tf.concat([preprocess(os.path.join(samples_dir, p), size, variant) for p in photos], 0)
        probabilities = reloaded.predict(batch, verbose=0)
        from_h5 = model.predict(batch, verbose=0)
        if not np.allclose(probabilities, from_h5, atol=1e-6):
            raise SystemExit('the .keras file answers differently from the .h5 file')
        answers = {}
        for photo, p in zip(photos, probabilities.tolist()):
            answers[photo] = {
                'probabilities': p,
                'top1': labels[int(np.argmax(p))],
            }
        reference['variants'][variant] = answers
        log(f'{variant}: ' + ', '.join(f"{k} {v['top1']}" for k, v in answers.items()))
    with open(os.path.join(out, 'reference.json'), 'w', encoding='utf8') as f:
        json.dump(reference, f, indent=1)


if __name__ == '__main__':
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
