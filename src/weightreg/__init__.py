"""weightreg: does weight regularization help this Keras model, by how much, and at which strength?"""

import os

# TensorFlow's start-up lines (absl, oneDNN, XLA, StreamExecutor) bury a stage's own output; they are
# silenced before TensorFlow is first imported. WEIGHTREG_VERBOSE=1 brings them back (TensorFlow's default,
# even where a parent process that imported weightreg passed the silencing variable on).
if os.environ.get("WEIGHTREG_VERBOSE"):
    os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
