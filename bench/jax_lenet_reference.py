#!/usr/bin/env python3
"""Independent reference for the LeNet accuracy figure in docs/benchmarks.md: the same LeNet-5
(conv5×5×6 pad 2, ReLU, max-pool, conv5×5×16, ReLU, max-pool, 120, 84, 10; PyTorch's default
init) trained in JAX on CPU on the embedded MNIST (data/mnist, `npm run setup`) with Adam and a
cosine schedule, 2 epochs. It shows what the data allow, independently of samlab's kernels.

    python3 bench/jax_lenet_reference.py [BATCH] [LR] [SEED]
"""
import gzip
import os
import sys

import numpy as np
import jax
import jax.numpy as jnp

jax.config.update("jax_platforms", "cpu")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


def load(prefix):
    def read(name):
        with gzip.open(os.path.join(DATA, name + ".gz")) as f:
            return f.read()

    images = np.frombuffer(read(f"{prefix}-images-idx3-ubyte"), np.uint8, offset=16)
    labels = np.frombuffer(read(f"{prefix}-labels-idx1-ubyte"), np.uint8, offset=8)
    x = ((images.reshape(-1, 1, 28, 28) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    return x, labels


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    lr = float(sys.argv[2]) if len(sys.argv) > 2 else 0.002
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    x_train, y_train = load("train")
    x_test, y_test = load("t10k")
    rng = np.random.default_rng(seed)

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return jnp.array(rng.uniform(-bound, bound, shape), jnp.float32)

    params = {
        "c1w": uniform((6, 1, 5, 5), 25), "c1b": uniform((6,), 25),
        "c2w": uniform((16, 6, 5, 5), 150), "c2b": uniform((16,), 150),
        "f1w": uniform((400, 120), 400), "f1b": uniform((120,), 400),
        "f2w": uniform((120, 84), 120), "f2b": uniform((84,), 120),
        "f3w": uniform((84, 10), 84), "f3b": uniform((10,), 84),
    }

    def conv(x, w, b, pad):
        y = jax.lax.conv_general_dilated(
            x, w, (1, 1), [(pad, pad), (pad, pad)], dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b[None, :, None, None]

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def forward(p, x):
        h = pool(jax.nn.relu(conv(x, p["c1w"], p["c1b"], 2)))
        h = pool(jax.nn.relu(conv(h, p["c2w"], p["c2b"], 0)))
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ p["f1w"] + p["f1b"])
        h = jax.nn.relu(h @ p["f2w"] + p["f2b"])
        return h @ p["f3w"] + p["f3b"]

    def loss(p, x, y):
        return -jnp.mean(jax.nn.log_softmax(forward(p, x))[jnp.arange(len(y)), y])

    steps = 2 * (len(y_train) // batch)
    state = (jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params), 0)

    @jax.jit
    def step(p, state, x, y):
        m, v, t = state
        t = t + 1
        rate = lr * 0.5 * (1 + jnp.cos(jnp.pi * (t - 1) / steps))
        g = jax.grad(loss)(p, x, y)
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        p = jax.tree.map(
            lambda p, m, v: p - rate * (m / (1 - 0.9**t)) / (jnp.sqrt(v / (1 - 0.999**t)) + 1e-8),
            p, m, v)
        return p, (m, v, t)

    for epoch in range(2):
        order = rng.permutation(len(y_train))
        for i in range(len(y_train) // batch):
            rows = order[i * batch:(i + 1) * batch]
            params, state = step(params, state, x_train[rows], y_train[rows])
        accuracy = np.mean(np.argmax(np.array(forward(params, x_test)), 1) == y_test)
        print(f"epoch {epoch + 1}: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
