"""weightreg: does weight regularization help this Keras model, by how much, and at which strength?"""

import os

# TensorFlow's start-up lines (absl, oneDNN, XLA, StreamExecutor) bury a stage's own output; they are
# silenced before TensorFlow is first imported. WEIGHTREG_VERBOSE=1 brings them back (TensorFlow's default,
# even where a parent process that imported weightreg passed the silencing variable on).
if os.environ.get("WEIGHTREG_VERBOSE"):
    os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
else:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow switches its oneDNN kernels on by itself on CPUs with AVX-512 VNNI or BF16, and announces at
# start-up that results may then differ in the last bits. Off unless asked for (TF_ENABLE_ONEDNN_OPTS=1):
# TensorFlow's kernels outside XLA then do not change with that CPU feature, and the line is not printed.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
