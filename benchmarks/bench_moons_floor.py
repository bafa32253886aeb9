"""What bounds the moons stack: the same arithmetic (Dense 500 relu -> Dense 1, full batch of 30, L2 on the
first kernel, Adam) as a bare XLA loop of 1,000 epochs, microseconds per member-epoch against K.

    .venv/bin/python benchmarks/bench_moons_floor.py --sizes 8 16 32 64 105
    .venv/bin/python benchmarks/bench_moons_floor.py --sizes 30 --parallel 2

`einsum` is the batched matmul the stacked Dense layer uses; `broadcast` writes the 2-input first layer
and the 1-unit output as element-wise products and sums; `explicit` writes the whole gradient by hand as
element-wise products and reductions (no tape, no matmul), to see whether XLA fuses it into fewer passes
over the (K, 30, 500) activations. Random data; the best of 3 repeats.

With --parallel P, P such loops (P stacks of K) run at once, each in its own thread, as the pipeline's
`train.parallel_stacks` trains stacks: the floor under the trainer's own two-at-a-time cost. The loop has
no validation, no metrics and no Keras: only the training arithmetic.
"""

from __future__ import annotations

import argparse
import threading
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

    def gradients():
        if form != "explicit":
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, logits()), -1))
                loss += 1e-3 * tf.reduce_sum(weights[0] ** 2)
            return tape.gradient(loss, weights)
        w1, b1, w2, b2 = weights
        x0, x1 = x[..., 0:1], x[..., 1:2]
        a = x0 * w1[:, None, 0, :] + x1 * w1[:, None, 1, :] + b1[:, None, :]
        h = tf.nn.relu(a)
        dz = (tf.sigmoid(tf.reduce_sum(h * w2[:, None, :, 0], -1) + b2) - y) / N
        dh = tf.where(a > 0, dz[..., None] * w2[:, None, :, 0], 0.0)
        dw1 = tf.stack([tf.reduce_sum(x0 * dh, 1), tf.reduce_sum(x1 * dh, 1)], 1) + 2e-3 * w1
        return [dw1, tf.reduce_sum(dh, 1), tf.reduce_sum(h * dz[..., None], 1)[..., None], tf.reduce_sum(dz, 1, keepdims=True)]

    def step():
        for w, g, (m, v) in zip(weights, gradients(), moments):
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
    parser.add_argument("--parallel", type=int, default=1, help="stacks trained at once, one thread each")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    print(f"{args.parallel} stack(s) at a time")
    forms = ("einsum", "broadcast", "explicit")
    print("K    us/member-epoch: " + "  ".join(forms))
    for k in args.sizes:
        cost = {}
        for form in forms:
            stacks = [loop(k, form) for _ in range(args.parallel)]
            for epochs in stacks:
                epochs(tf.constant(10)).numpy()  # trace and compile
            times = []
            for _ in range(3):
                workers = [threading.Thread(target=lambda epochs=epochs: epochs(tf.constant(EPOCHS)).numpy()) for epochs in stacks]
                start = time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                times.append(time.perf_counter() - start)
            cost[form] = min(times) / EPOCHS / (k * args.parallel) * 1e6
        print(f"{k:<4} {' ' * 16}" + "  ".join(f"{cost[form]:{len(form)}.1f}" for form in forms))


if __name__ == "__main__":
    main()
