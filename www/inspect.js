// The inspection panel ("Looking at the model"): a gallery of test images with the model's
// prediction and its probability (mistakes framed in red with the true class; all images or the
// mistakes only, a page at a time), the confusion matrix, the accuracy per class, and the first
// layer's weights drawn as images.
//
// The worker answers `inspect` with an `inspection` message (docs/web.md): the predictions for the
// whole test split (from the evaluation pass: free right after an evaluation), the requested page
// of images and the first layer's weights. While the panel is open the worker follows: it answers
// again after every evaluation, so the panel keeps up with training at the cost of a read. main.js
// hands over the `inspection` messages, the errors whose field is `inspect` and the `done`s.

const TRAINER_STATES = new Set(['ready', 'running', 'paused', 'done']);
export const PAGE_SIZE = 48;
export const UNITS = 64;

/** The classes' names by data set (MNIST's are its digits). */
export const CLASS_NAMES = Object.freeze({
  mnist: Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']),
  'fashion-mnist': Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']),
  cifar10: Object.freeze(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']),
});

const $ = (id) => document.getElementById(id);
const grouped = (n) => n.toLocaleString('en-US');
const percent = (x, digits = 1) => `${(100 * x).toFixed(digits)}%`;

/** Names for `classes` classes of `dataset` (their numbers where the data set has no names). */
export function classNames(dataset, classes) {
  const names = CLASS_NAMES[dataset] ?? [];
  return Array.from({ length: classes }, (_, c) => names[c] ?? String(c));
}

/** Counts by true class (rows) and prediction (columns). */
export function confusionMatrix(predicted, labels, classes) {
  const matrix = Array.from({ length: classes }, () => new Array(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < classes && predicted[i] < classes) matrix[labels[i]][predicted[i]] += 1;
  }
  return matrix;
}

/** Per class: {correct (the diagonal), total (the row), accuracy (null without samples)}. */
export function classAccuracy(matrix) {
  return matrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return { correct: row[c], total, accuracy: total > 0 ? row[c] / total : null };
  });
}

/**
 * How one unit of the first layer is drawn: an MLP's unit has one weight per input pixel, so it is
 * an image of the input's shape; a convolution's filter is its kernel, channels × kh × kw.
 * `shape` is the weight tensor's, `image` the data's [channels, height, width].
 */
export function tileGeometry(shape, image) {
  if (shape.length === 4) return { channels: shape[1], height: shape[2], width: shape[3], kind: 'filter' };
  const [channels, height, width] = image;
  if (shape.length === 2 && shape[1] === channels * height * width) return { channels, height, width, kind: 'unit' };
  // Anything else: one row of weights per unit.
  return { channels: 1, height: 1, width: shape.slice(1).reduce((a, b) => a * b, 1), kind: 'unit' };
}

const NEGATIVE = [33, 102, 172]; // blue
const POSITIVE = [178, 24, 43]; // red

/** Diverging colour for t in [−1, 1]: blue below 0, white at 0, red above. */
export function divergingColour(t) {
  const s = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = s < 0 ? NEGATIVE : POSITIVE;
  const a = Math.abs(s);
  return end.map((v) => Math.round(255 + (v - 255) * a));
}

function canvasOf(width, height, draw) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  draw(image.data);
  context.putImageData(image, 0, 0);
  return canvas;
}

/** A test image (channel planes of bytes) as a canvas. */
function imageCanvas(pixels, [channels, height, width]) {
  const plane = height * width;
  return canvasOf(width, height, (rgba) => {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) rgba[4 * p + c] = pixels[(channels === 3 ? c : 0) * plane + p];
      rgba[4 * p + 3] = 255;
    }
  });
}

/** One unit's weights as a canvas: one channel in the diverging scale, three as RGB around grey. */
function tileCanvas(values, { channels, height, width }, scale) {
  const plane = height * width;
  return canvasOf(width, height, (rgba) => {
    for (let p = 0; p < plane; p++) {
      const rgb = channels === 3
        ? [0, 1, 2].map((c) => Math.round(127.5 + 127.5 * Math.max(-1, Math.min(1, values[c * plane + p] / scale))))
        : divergingColour(values[p] / scale);
      rgba.set(rgb, 4 * p);
      rgba[4 * p + 3] = 255;
    }
  });
}

export class InspectPanel {
  /** `send(message)` posts to the worker; `context()` → {state, info}. */
  constructor({ send, context }) {
    this.send = send;
    this.context = context;
    this.request = { from: 0, count: PAGE_SIZE, mistakesOnly: false };
    this.following = false; // the worker answers after every evaluation
    this.pending = false; // an inspect command is unanswered
    this.failed = false; // the last one failed: wait for the user before asking again
    this.last = null; // the last inspection message
    this.view = null; // what it drew (snapshot)
    this.error = '';
    this.details = $('inspect');
    this.details.addEventListener('toggle', () => this.onToggle());
    $('inspect-refresh').addEventListener('click', () => this.ask());
    $('inspect-mistakes').addEventListener('change', (event) => this.ask({ from: 0, mistakesOnly: event.target.checked }));
    $('inspect-previous').addEventListener('click', () => this.ask({ from: Math.max(0, this.request.from - this.request.count) }));
    $('inspect-next').addEventListener('click', () => this.ask({ from: this.request.from + this.request.count }));
  }

  get open() {
    return this.details.open;
  }

  hasTrainer() {
    return TRAINER_STATES.has(this.context().state);
  }

  /** Asks the worker for an inspection (and to follow the evaluations) with `changes` applied. */
  ask(changes = {}) {
    this.request = { ...this.request, ...changes };
    this.failed = false;
    if (!this.hasTrainer()) return this.render();
    this.send({ type: 'inspect', ...this.request, units: UNITS, follow: true });
    this.following = true;
    this.pending = true;
    this.render();
  }

  onToggle() {
    if (this.open) {
      this.ask();
    } else if (this.following) {
      this.send({ type: 'inspect', stop: true });
      this.following = false;
    }
  }

  onInspection(msg) {
    this.last = msg;
    this.pending = false;
    this.error = '';
    this.request = { ...this.request, from: msg.from, mistakesOnly: msg.mistakesOnly };
    this.draw(msg);
    this.render();
  }

  onError(msg) {
    this.error = [msg.message, msg.hint].filter(Boolean).join(' ');
    this.pending = false;
    this.following = false; // the worker stopped following
    this.failed = true;
    this.render();
  }

  onDone(command) {
    if (command !== 'inspect') return;
    this.pending = false;
    this.render();
  }

  /** A new trainer or worker: forget what was shown (the panel asks again once a trainer is ready). */
  clear() {
    this.last = null;
    this.view = null;
    this.following = false;
    this.pending = false;
    this.failed = false;
    this.error = '';
    this.request = { ...this.request, from: 0 };
    for (const selector of ['#inspect-gallery .gallery', '#inspect-confusion .table-scroll', '#inspect-classes .class-accuracy', '#inspect-weights .tiles']) {
      document.querySelector(selector).replaceChildren();
    }
    $('inspect-weights').querySelector('figcaption').textContent = '';
    this.render();
  }

  render() {
    const trainer = this.hasTrainer();
    // An open panel follows the trainer: ask once one is ready (after a Reset, a new model, …).
    if (this.open && trainer && !this.following && !this.pending && !this.failed) {
      this.ask();
      return;
    }
    const shown = this.last;
    $('inspect-refresh').disabled = !trainer || this.pending;
    $('inspect-mistakes').checked = this.request.mistakesOnly;
    $('inspect-previous').disabled = !trainer || this.pending || !shown || shown.from === 0;
    $('inspect-next').disabled = !trainer || this.pending || !shown || shown.from + shown.count >= shown.matching;
    $('inspect-error').textContent = this.error;
    let range = '';
    if (shown) {
      const what = shown.mistakesOnly ? 'Mistakes' : 'Images';
      range = shown.matching === 0
        ? (shown.mistakesOnly ? 'No mistakes.' : 'No test images.')
        : `${what} ${grouped(shown.from + 1)}–${grouped(shown.from + shown.indices.length)} of ${grouped(shown.matching)}`;
    }
    $('inspect-range').textContent = this.pending ? `${range}${range ? ' ' : ''}(reading…)` : range;
  }

  draw(msg) {
    const names = classNames(msg.dataset, msg.classes);
    const matrix = confusionMatrix(msg.predicted, msg.labels, msg.classes);
    const perClass = classAccuracy(matrix);
    const correct = perClass.reduce((a, c) => a + c.correct, 0);
    const total = msg.testCount;
    $('inspect-status').textContent = total > 0
      ? `Step ${grouped(msg.step)}: ${grouped(correct)} of ${grouped(total)} test images right (${percent(correct / total, 2)}), ${grouped(total - correct)} mistakes.`
      : 'The test split is empty.';
    const shown = this.drawGallery(msg, names);
    this.drawMatrix(matrix, names);
    this.drawClassAccuracy(perClass, names);
    const firstLayer = this.drawWeights(msg);
    this.view = { step: msg.step, names, matrix, perClass, shown, firstLayer };
  }

  drawGallery(msg, names) {
    const size = msg.shape.reduce((a, b) => a * b, 1);
    const shown = [];
    const items = Array.from(msg.indices, (index, k) => {
      const predicted = msg.predicted[index];
      const label = msg.labels[index];
      const confidence = msg.confidence[index];
      const mistake = predicted !== label;
      shown.push({ index, predicted, label, confidence, mistake });
      const item = document.createElement('figure');
      item.className = mistake ? 'sample mistake' : 'sample';
      item.setAttribute('role', 'listitem');
      item.dataset.index = String(index);
      item.setAttribute('aria-label', `Test image ${index + 1}: predicted ${names[predicted]} (${percent(confidence, 0)})`
        + (mistake ? `, a mistake: it is ${names[label]}` : ''));
      const canvas = imageCanvas(msg.images.subarray(k * size, (k + 1) * size), msg.shape);
      canvas.setAttribute('aria-hidden', 'true');
      const caption = document.createElement('figcaption');
      const line = (className, text) => {
        const span = document.createElement('span');
        span.className = className;
        span.textContent = text;
        caption.append(span);
      };
      line('prediction', names[predicted]);
      line('confidence', percent(confidence, 0));
      if (mistake) line('truth', `true: ${names[label]}`);
      item.append(canvas, caption);
      return item;
    });
    document.querySelector('#inspect-gallery .gallery').replaceChildren(...items);
    return shown;
  }

  drawMatrix(matrix, names) {
    const table = document.createElement('table');
    table.className = 'confusion';
    const head = table.createTHead().insertRow();
    const corner = document.createElement('th');
    corner.textContent = 'true \\ predicted';
    corner.scope = 'col';
    head.append(corner);
    for (const name of names) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = name;
      head.append(th);
    }
    const body = table.createTBody();
    matrix.forEach((row, t) => {
      const tr = body.insertRow();
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = names[t];
      tr.append(th);
      const total = row.reduce((a, b) => a + b, 0);
      row.forEach((count, p) => {
        const td = tr.insertCell();
        td.textContent = grouped(count);
        td.dataset.true = String(t);
        td.dataset.predicted = String(p);
        const share = total > 0 ? count / total : 0;
        // Shaded by the share of the row: the diagonal in blue, confusions in red.
        const rgb = p === t ? '37, 99, 235' : '220, 38, 38';
        if (count > 0) td.style.background = `rgba(${rgb}, ${(0.08 + 0.82 * share).toFixed(3)})`;
        if (share > 0.5) td.classList.add('dark');
        td.title = `${grouped(count)} of the ${grouped(total)} images of ${names[t]} predicted ${names[p]}`;
      });
    });
    document.querySelector('#inspect-confusion .table-scroll').replaceChildren(table);
  }

  drawClassAccuracy(perClass, names) {
    const items = perClass.map(({ correct, total, accuracy }, c) => {
      const li = document.createElement('li');
      li.dataset.class = String(c);
      li.dataset.correct = String(correct);
      li.dataset.total = String(total);
      li.title = `${grouped(correct)} of ${grouped(total)}`;
      const name = document.createElement('span');
      name.textContent = names[c];
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.setAttribute('aria-hidden', 'true');
      const fill = document.createElement('span');
      fill.style.width = `${accuracy === null ? 0 : (100 * accuracy).toFixed(1)}%`;
      bar.append(fill);
      const value = document.createElement('span');
      value.className = 'value';
      value.textContent = accuracy === null ? '–' : percent(accuracy);
      li.append(name, bar, value);
      return li;
    });
    document.querySelector('#inspect-classes .class-accuracy').replaceChildren(...items);
  }

  drawWeights(msg) {
    const { name, shape, units, values } = msg.firstLayer;
    const tile = tileGeometry(shape, msg.shape);
    const perUnit = tile.channels * tile.height * tile.width;
    let scale = 0;
    for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    scale ||= 1;
    const tiles = Array.from({ length: units }, (_, u) => {
      const item = document.createElement('figure');
      item.className = 'tile';
      item.setAttribute('role', 'listitem');
      item.setAttribute('aria-label', `${tile.kind === 'filter' ? 'filter' : 'unit'} ${u + 1}`);
      item.title = item.getAttribute('aria-label');
      item.append(tileCanvas(values.subarray(u * perUnit, (u + 1) * perUnit), tile, scale));
      return item;
    });
    document.querySelector('#inspect-weights .tiles').replaceChildren(...tiles);
    const what = tile.kind === 'filter'
      ? `its first ${grouped(units)} of ${grouped(shape[0])} filters (${tile.height}×${tile.width} kernels, enlarged)`
      : `the input weights of its first ${grouped(units)} of ${grouped(shape[0])} units, each as a ${tile.height}×${tile.width} image`;
    const colours = tile.channels === 3
      ? `each colour channel shows its own weights: mid-grey at 0, none of the colour at −${scale.toPrecision(3)}, all of it at +${scale.toPrecision(3)}`
      : `blue below 0, white at 0, red above; full colour at ±${scale.toPrecision(3)} (the largest |w| shown)`;
    $('inspect-weights').querySelector('figcaption').textContent = `First layer (${name}, ${shape.join('×')}): ${what}; ${colours}`;
    return { name, shape: [...shape], units, tile, scale, drawn: tiles.length };
  }

  /** For window.samlab.inspection (tests). */
  snapshot() {
    const m = this.last;
    const v = this.view;
    return {
      open: this.open,
      following: this.following,
      pending: this.pending,
      error: this.error,
      request: { ...this.request },
      step: m?.step ?? null,
      dataset: m?.dataset ?? null,
      testCount: m?.testCount ?? null,
      from: m?.from ?? null,
      count: m?.count ?? null,
      matching: m?.matching ?? null,
      mistakesOnly: m?.mistakesOnly ?? null,
      names: v ? [...v.names] : null,
      confusion: v ? v.matrix.map((row) => [...row]) : null,
      classAccuracy: v ? v.perClass.map((c) => ({ ...c })) : null,
      shown: v ? v.shown.map((s) => ({ ...s })) : null,
      firstLayer: v ? { ...v.firstLayer, tile: { ...v.firstLayer.tile } } : null,
    };
  }
}
