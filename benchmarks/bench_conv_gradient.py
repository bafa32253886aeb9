"""The CNN's gradient through Conv1D + global max pooling: Keras's dense gradient against one that uses
the pooling's sparsity, at imdb_cnn's shapes (a tried idea, kept so that the numbers can be rerun).

    .venv/bin/python benchmarks/bench_conv_gradient.py

After a global max pool only the maximal window of each (review, filter) gets a gradient, so the convolution's
two backward products (about 2/3 of a step's arithmetic) could shrink to gathers and a scatter. To stay
Keras's gradient, ties must split the gradient evenly over every tied window, as TensorFlow's reduce_max
gradient does: with pre-padded reviews the all-padding windows tie for many filters, and Keras's Adam
squares the embedding gradient per looked-up position, so moving a share between positions changes the
training. The sparse version here handles ties that form one contiguous run of windows (prefix sums for the
kernel's gradient, a difference array for the input's) and falls back to the dense gradient otherwise.
Both run as one XLA function per step: embedding lookup, convolution + bias, max pool, relu, gradients.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

BATCH, STEPS, DIM, FILTERS, WIDTH, VOCAB = 128, 200, 32, 64, 5, 10000  # imdb_cnn: batch, maxlen, embedding, filters, kernel


def pooled_dense(x, w, b):
    import tensorflow as tf

    return tf.reduce_max(tf.nn.conv1d(x, w, 1, "VALID") + b, axis=1)


def pooled_sparse(x, w, b):
    """max over windows of conv1d(x, w) + b, with a gradient only through the maximal (tied) windows."""
    import tensorflow as tf

    @tf.custom_gradient
    def pooled(x, w, b):
        z = tf.nn.conv1d(x, w, 1, "VALID") + b
        top = tf.reduce_max(z, axis=1)

        def gradient(g):
            n, steps, d = x.shape
            windows = z.shape[1]
            tied = z == top[:, None]
            at = tf.range(windows)[None, :, None]
            first = tf.reduce_min(tf.where(tied, at, windows), axis=1)
            last = tf.reduce_max(tf.where(tied, at, -1), axis=1)
            count = tf.reduce_sum(tf.cast(tied, z.dtype), axis=1)
            share = g / count  # reduce_max's gradient: an even share for every tied window

            def contiguous():
                prefix = tf.reshape(tf.concat([tf.zeros((n, 1, d), x.dtype), tf.cumsum(x, axis=1)], axis=1), (-1, d))
                rows = tf.range(n)[None, :, None] * (steps + 1)
                lo = rows + tf.transpose(first)[:, :, None] + tf.range(WIDTH)  # (filters, n, width)
                hi = rows + tf.transpose(last)[:, :, None] + tf.range(WIDTH) + 1
                dw = tf.einsum("fn,fnkd->kdf", tf.transpose(share), tf.gather(prefix, hi) - tf.gather(prefix, lo))
                spread = tf.reshape(tf.transpose(share)[:, :, None, None] * tf.transpose(w, (2, 0, 1))[:, None], (-1, d))
                edges = tf.math.unsorted_segment_sum(tf.concat([spread, -spread], 0),
                                                     tf.concat([tf.reshape(lo, (-1,)), tf.reshape(hi, (-1,))], 0), n * (steps + 1))
                return tf.cumsum(tf.reshape(edges, (n, steps + 1, d)), axis=1)[:, :steps], dw

            def dense():
                with tf.GradientTape() as tape:
                    tape.watch([x, w])
                    again = tf.nn.conv1d(x, w, 1, "VALID")
                return tuple(tape.gradient(again, [x, w], output_gradients=tf.where(tied, share[:, None], 0.0)))

            contiguous_ties = tf.reduce_all(tf.cast(last - first + 1, z.dtype) == count)
            dx, dw = tf.cond(contiguous_ties, contiguous, dense)
            return dx, dw, tf.reduce_sum(g, axis=0)

        return top, gradient

    return pooled(x, w, b)


def step_function(pool, embeddings, kernel, bias, words, weights):
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.relu(pool(tf.gather(embeddings, words), kernel, bias)) * weights)
        embedding_slices, dk, db = tape.gradient(loss, [embeddings, kernel, bias])
        return embedding_slices.values, dk, db

    return step


def main() -> None:
    import tensorflow as tf

    from weightreg.members import seed_everything

    seed_everything(0, 2)
    rng = np.random.default_rng(0)
    embeddings = tf.Variable(rng.uniform(-0.05, 0.05, (VOCAB, DIM)).astype("float32"))
    kernel = tf.Variable(rng.uniform(-0.2, 0.2, (WIDTH, DIM, FILTERS)).astype("float32"))
    bias = tf.Variable(rng.uniform(-0.1, 0.1, FILTERS).astype("float32"))
    words = rng.integers(1, VOCAB, (BATCH, STEPS)).astype("int32")
    for row, padding in zip(words, rng.integers(0, 150, BATCH)):  # pre-padded reviews of 50 to 200 words
        row[:padding] = 0
    weights = tf.constant(rng.normal(size=(BATCH, FILTERS)).astype("float32"))
    steps = {name: step_function(pool, embeddings, kernel, bias, tf.constant(words), weights)
             for name, pool in (("keras (dense)", pooled_dense), ("max-pool-aware", pooled_sparse))}
    results = {name: [np.asarray(g) for g in step()] for name, step in steps.items()}
    times = {name: [] for name in steps}
    for _ in range(7):  # alternating, so that both meet the same machine
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(20):
                step()
            times[name].append((time.perf_counter() - start) / 20 * 1e3)
    print("ms per gradient step (batch 128, 200 words), median of 7 repeats of 20 steps:")
    for name, values in times.items():
        print(f"  {name}: {statistics.median(values):.2f}  [{', '.join(f'{v:.2f}' for v in values)}]")
    print(f"ratio keras / max-pool-aware: {statistics.median(times['keras (dense)']) / statistics.median(times['max-pool-aware']):.2f}")
    for label, dense, sparse in zip(("embedding slices", "kernel", "bias"), *results.values()):
        print(f"  {label}: max |difference| {np.abs(dense - sparse).max():.2e} of max |gradient| {np.abs(dense).max():.2e}")


if __name__ == "__main__":
    main()
