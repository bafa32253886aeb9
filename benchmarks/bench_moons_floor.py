"""What bounds the moons stack: the same arithmetic (Dense 500 relu -> Dense 1, full batch of 30, L2 on the
first kernel, Adam) as a bare XLA loop of 1,000 epochs, microseconds per member-epoch against K.

    .venv/bin/python benchmarks/bench_moons_floor.py --sizes 8 16 32 64 105

`einsum` is the batched matmul the stacked Dense layer uses; `broadcast` writes the 2-input first layer
and the 1-unit output as element-wise products and sums. Random data; the best of 3 repeats.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

N, HIDDEN, EPOCHS = 30, 500, 1000


def loop(k: int, form: str):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(k, N, 2)).astype(np.float32))
    y = tf.constant((rng.random((k, N)) > 0.5).astype(np.float32))
    weights = [tf.Variable(rng.normal(size=shape).astype(np.float32) * scale)
               for shape, scale in (((k, 2, HIDDEN), 0.5), ((k, HIDDEN), 0.0), ((k, HIDDEN, 1), 0.05), ((k, 1), 0.0))]
    moments = [(tf.Variable(tf.zeros_like(w)), tf.Variable(tf.zeros_like(w))) for w in weights]

    def logits():
        w1, b1, w2, b2 = weights
        if form == "einsum":
            h = tf.nn.relu(tf.einsum("kni,kio->kno", x, w1) + b1[:, None, :])
            return tf.einsum("kni,kio->kno", h, w2)[..., 0] + b2
        h = tf.nn.relu(x[..., 0:1] * w1[:, None, 0, :] + x[..., 1:2] * w1[:, None, 1, :] + b1[:, None, :])
        return tf.reduce_sum(h * w2[:, None, :, 0], -1) + b2

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, logits()), -1))
            loss += 1e-3 * tf.reduce_sum(weights[0] ** 2)
        for w, g, (m, v) in zip(weights, tape.gradient(loss, weights), moments):
            m.assign(0.9 * m + 0.1 * g)
            v.assign(0.999 * v + 0.001 * g * g)
            w.assign_sub(1e-3 * m / (tf.sqrt(v) + 1e-7))

    @tf.function(jit_compile=True)
    def epochs(n):
        for _ in tf.range(n):
            step()
        return weights[0][0, 0, 0]

    return epochs


def main() -> None:
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64, 105])
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    print("K    einsum us/member-epoch  broadcast us/member-epoch")
    for k in args.sizes:
        cost = {}
        for form in ("einsum", "broadcast"):
            epochs = loop(k, form)
            epochs(tf.constant(10)).numpy()  # trace and compile
            times = []
            for _ in range(3):
                start = time.perf_counter()
                epochs(tf.constant(EPOCHS)).numpy()
                times.append(time.perf_counter() - start)
            cost[form] = min(times) / EPOCHS / k * 1e6
        print(f"{k:<4} {cost['einsum']:22.1f}  {cost['broadcast']:25.1f}")


if __name__ == "__main__":
    main()
