// TF.js side of the side-by-side benchmark (bench/all.mjs): the MLP 784-256-256-10 and the
// tfjs-examples MNIST convnet written with tfjs-core ops only, trained with momentum SGD
// (tf.train.momentum) and with SAM as two gradient evaluations:
//
//   g0 = ∇L(w); e = ρ·g0/‖g0‖; w += e; g1 = ∇L(w); w −= e; optimizer step with g1
//
// (tf.variableGrads / optimizer.applyGradients). The data is one fixed random batch of the right
// shape (uniform pixels in [0, 1), random labels): step time does not depend on the values.
// Takes `tf` as a parameter so the same code runs in the page (window.tf, the UMD builds) and in
// Node (a quick check with the CPU backend).

/** Glorot-uniform weights, zero biases (as tf.layers' defaults). */
function glorot(tf, shape, fanIn, fanOut) {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.tidy(() => tf.variable(tf.randomUniform(shape, -limit, limit, 'float32', 7)));
}
const zeros = (tf, n) => tf.tidy(() => tf.variable(tf.zeros([n])));

/** {vars, forward(x), inputShape} for 'mlp' or 'convnet'. */
export function buildModel(tf, model) {
  if (model === 'mlp') {
    const w1 = glorot(tf, [784, 256], 784, 256), b1 = zeros(tf, 256);
    const w2 = glorot(tf, [256, 256], 256, 256), b2 = zeros(tf, 256);
    const w3 = glorot(tf, [256, 10], 256, 10), b3 = zeros(tf, 10);
    return {
      vars: [w1, b1, w2, b2, w3, b3],
      inputShape: [784],
      forward: (x) => {
        const h1 = tf.relu(tf.add(tf.matMul(x, w1), b1));
        const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2));
        return tf.add(tf.matMul(h2, w3), b3);
      },
    };
  }
  if (model === 'convnet') {
    // conv 5×5×8 (valid) → relu → max-pool 2 → conv 5×5×16 → relu → max-pool 2 → dense 10:
    // 28 → 24 → 12 → 8 → 4, flatten 4·4·16 = 256; 208 + 3,216 + 2,570 = 5,994 parameters.
    const k1 = glorot(tf, [5, 5, 1, 8], 25, 200), c1 = zeros(tf, 8);
    const k2 = glorot(tf, [5, 5, 8, 16], 200, 400), c2 = zeros(tf, 16);
    const w = glorot(tf, [256, 10], 256, 10), b = zeros(tf, 10);
    return {
      vars: [k1, c1, k2, c2, w, b],
      inputShape: [28, 28, 1],
      forward: (x) => {
        let h = tf.relu(tf.add(tf.conv2d(x, k1, 1, 'valid'), c1));
        h = tf.maxPool(h, 2, 2, 'valid');
        h = tf.relu(tf.add(tf.conv2d(h, k2, 1, 'valid'), c2));
        h = tf.maxPool(h, 2, 2, 'valid');
        return tf.add(tf.matMul(tf.reshape(h, [x.shape[0], 256]), w), b);
      },
    };
  }
  throw new Error(`unknown model ${model}`);
}

/**
 * One training case: `step()` runs one step and returns the step's loss (a scalar tensor the
 * caller reads and disposes; reading it waits for the step, update included, to finish).
 */
export function makeCase(tf, { model, batch, optimizer, lr = 0.05, momentum = 0.9, rho = 0.05 }) {
  const net = buildModel(tf, model);
  const x = tf.randomUniform([batch, ...net.inputShape], 0, 1, 'float32', 1);
  const y = tf.tidy(() => tf.oneHot(tf.cast(tf.floor(tf.randomUniform([batch], 0, 10, 'float32', 2)), 'int32'), 10));
  const opt = tf.train.momentum(lr, momentum);
  const loss = () => tf.losses.softmaxCrossEntropy(y, net.forward(x));
  const { vars } = net;

  const sgd = () => {
    const { value, grads } = tf.variableGrads(loss, vars);
    opt.applyGradients(grads);
    tf.dispose(grads);
    return value;
  };
  const sam = () => {
    const first = tf.variableGrads(loss, vars);
    const eps = tf.tidy(() => {
      const norm = tf.sqrt(tf.addN(vars.map((v) => tf.sum(tf.square(first.grads[v.name])))));
      const scale = tf.div(tf.scalar(rho), tf.add(norm, tf.scalar(1e-12)));
      return vars.map((v) => tf.mul(first.grads[v.name], scale));
    });
    tf.tidy(() => vars.forEach((v, i) => v.assign(tf.add(v, eps[i])))); // w += e
    const second = tf.variableGrads(loss, vars); // g1 = ∇L(w + e)
    tf.tidy(() => vars.forEach((v, i) => v.assign(tf.sub(v, eps[i])))); // w −= e
    opt.applyGradients(second.grads); // momentum step with g1 at w
    tf.dispose([first.value, first.grads, eps, second.grads]);
    return second.value;
  };
  if (optimizer !== 'sgd' && optimizer !== 'sam') throw new Error(`TF.js case: optimizer ${optimizer} not written`);
  return {
    step: optimizer === 'sgd' ? sgd : sam,
    dispose: () => tf.dispose([...vars, x, y, opt]),
  };
}
