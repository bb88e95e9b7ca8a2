// Paired runs (A/B): the run the settings describe (A, the page's own worker) and up to
// MAX_COMPARED more (B, C, …), each a Run of client.js with its own worker. Every compared run is
// A's settings with a few overrides (settings.js, comparedSettings); data set, model, widths,
// batch size, epochs and seed are shared (SHARED_KEYS), so all runs build the same initial
// weights from the seed and draw the same batches in the same order.
//
// The runs train side by side: Start, Pause and Step of the page drive them all, and a change of
// A's structure rebuilds them all. Their curves share three charts (accuracy, loss, and the
// generalisation gap: train − test accuracy at each evaluation), labelled by what differs, with
// the x-axis in steps, epochs, gradient evaluations or seconds of training.

import uPlot from './vendor/uPlot.esm.js';
import { Run } from './client.js';
import {
  MAX_COMPARED, OPTIMIZERS, PRESETS, SAM_INFO, SAM_MODES, comparedHash, comparedProblem, comparedSettings, overridesText,
  parseOverrides, runLabels, toTrainerConfig,
} from './settings.js';

const COLORS = ['#2563eb', '#ea580c', '#16a34a', '#7c3aed'];
const NAMES = ['A', 'B', 'C', 'D'];
const OPTIMIZER_NAMES = { sgd: 'SGD', momentum: 'SGD + momentum 0.9', adam: 'Adam', adamw: 'AdamW' };
/** The row's own fields; any other override is kept in its "other settings" field. */
const ROW_KEYS = ['optimizer', 'sam', 'rho', 'lr'];

/** What the x-axis can show: each train or test point has all four. */
export const AXES = Object.freeze({
  step: 'steps',
  epoch: 'epochs',
  gradEvals: 'gradient evaluations',
  seconds: 'seconds of training',
});

const $ = (id) => document.getElementById(id);
const finite = (v) => typeof v === 'number' && Number.isFinite(v);

/** One run's curves: train points from its metrics, test points from its evaluations. */
class Curves {
  constructor() {
    this.train = [];
    this.test = [];
    this.seconds = 0; // training time so far (its chunks' wall time, evaluations excluded)
    this.sinceEval = { steps: 0, correct: 0 }; // train accuracy since the last evaluation
  }

  addMetrics(m) {
    this.seconds += (m.msPerStep * m.steps) / 1000;
    this.sinceEval.steps += m.steps;
    this.sinceEval.correct += m.accuracy * m.steps;
    this.train.push({ ...this.x(m), loss: m.loss, accuracy: m.accuracy });
  }

  /** An evaluation; its train accuracy is the mean over the steps since the one before. */
  addEval(e) {
    const trainAccuracy = this.sinceEval.steps > 0 ? this.sinceEval.correct / this.sinceEval.steps : null;
    this.sinceEval = { steps: 0, correct: 0 };
    const point = { ...this.x(e), loss: e.loss, accuracy: e.accuracy, gap: trainAccuracy === null ? null : trainAccuracy - e.accuracy };
    // A second evaluation at the same step (after loading weights) replaces the first.
    if (this.test.length && this.test[this.test.length - 1].step === e.step) this.test.pop();
    this.test.push(point);
  }

  x(m) {
    return { step: m.step, epoch: m.epoch, gradEvals: m.step * (m.passesPerStep ?? 1), seconds: this.seconds };
  }
}

/** uPlot table [xs, ys] of points, x strictly increasing (later points win a tie). */
function table(points, axis, value) {
  const xs = [];
  const ys = [];
  for (const p of points) {
    const x = p[axis];
    const y = p[value];
    if (!finite(x)) continue;
    if (xs.length && x <= xs[xs.length - 1]) {
      if (x < xs[xs.length - 1]) continue;
      ys[ys.length - 1] = y;
      continue;
    }
    xs.push(x);
    ys.push(finite(y) ? y : null);
  }
  return [xs, ys];
}

const percent = (_u, values) => values.map((v) => (v == null ? '' : `${Math.round(v * 100)}%`));
const fixed = (digits) => (_u, v) => (v == null || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function chartOptions(kind, labels, axisName) {
  const series = [{ label: axisName, value: (_u, v) => (v == null ? '–' : String(+v.toFixed(3))) }];
  labels.forEach((label, i) => {
    const stroke = COLORS[i];
    if (kind === 'gap') {
      series.push({ label, stroke, width: 2, spanGaps: true, points: { show: true, size: 5 }, value: fixed(4) });
    } else {
      series.push({ label: `${label} train`, stroke, width: 1, dash: [3, 3], spanGaps: true, value: fixed(4) });
      series.push({ label: `${label} test`, stroke, width: 2, spanGaps: true, points: { show: true, size: 5 }, value: fixed(4) });
    }
  });
  const y = kind === 'accuracy'
    ? { range: (_u, min) => [finite(min) ? Math.max(0, Math.floor((min - 0.001) * 10) / 10) : 0, 1] }
    : kind === 'loss'
      ? { range: (_u, _min, max) => [0, finite(max) && max > 0 ? max * 1.05 : 1] }
      : { auto: true };
  return {
    width: 300,
    height: 200,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: { x: { time: false }, y },
    axes: [{ label: axisName }, kind === 'loss' ? { size: 45 } : { values: percent, size: 50 }],
    series,
  };
}

export class Comparison {
  /**
   * `host`: what the page lends: base() → A's settings (raw strings), data() → the worker's
   * `create` dataset for those settings, evalEvery() → steps between evaluations, onChange() →
   * the page's link and buttons need updating, applyLink(hash) → open a link's settings and runs
   * (an experiment preset).
   */
  constructor(host) {
    this.host = host;
    this.rows = []; // {overrides, text (the row's "other settings" as typed), problem, run, state, error, curves, key}
    this.base = new Curves();
    this.axis = 'step';
    this.plots = null;
    this.plotKey = '';
    this.frame = 0;
    this.running = false; // Start was pressed and no Pause since
    $('compare-add').addEventListener('click', () => this.add({ sam: this.host.base().sam === 'none' ? 'sam' : 'none' }));
    $('compareAxis').addEventListener('change', (event) => {
      this.axis = Object.hasOwn(AXES, event.target.value) ? event.target.value : 'step';
      this.redraw(true);
    });
    this.observer = new ResizeObserver(() => this.resize());
    const presets = $('comparePreset');
    for (const p of PRESETS) presets.add(new Option(p.name, p.id));
    presets.addEventListener('change', () => {
      const preset = PRESETS.find((p) => p.id === presets.value);
      $('compare-preset-note').textContent = preset?.about ?? '';
      if (preset) this.host.applyLink(preset.hash);
      if (preset?.measureScale) $('measureScale').value = preset.measureScale;
    });
  }

  /** The compared runs a link gives (built with A's next trainer, or by buildRows). */
  setFromLink(list) {
    for (const row of this.rows) row.run?.close();
    this.rows = list.map(({ overrides, text }) => this.newRow(overrides ?? {}, overrides === null ? text : null));
    this.render();
  }

  newRow(overrides, unreadable = null) {
    return { overrides, unreadable, run: null, state: 'idle', error: null, curves: new Curves(), key: null };
  }

  /** A run added from the page: A's settings with `overrides`. */
  add(overrides) {
    if (this.rows.length >= MAX_COMPARED) return;
    this.rows.push(this.newRow(overrides));
    this.render();
    this.rebuild(this.rows[this.rows.length - 1]);
    this.host.onChange();
  }

  remove(row) {
    row.run?.close();
    this.rows = this.rows.filter((r) => r !== row);
    this.render();
    this.redraw(true);
    this.host.onChange();
  }

  /** The `&vs=…` part of the page's link. */
  hash() {
    return comparedHash(this.rows.filter((r) => !r.unreadable).map((r) => r.overrides));
  }

  settingsOf(row) {
    return comparedSettings(this.host.base(), row.overrides);
  }

  problemOf(row) {
    if (row.unreadable !== null) return comparedProblem(this.host.base(), null);
    return comparedProblem(this.host.base(), row.overrides);
  }

  // -------------------------------------------------------------------------------------------
  // Runs

  /** A was (re)built: every compared run starts afresh with the same data. */
  rebuildAll() {
    this.running = false; // a new A waits for Start, and so do its compared runs
    this.base = new Curves();
    this.buildRows();
  }

  /** Builds every compared run afresh beside A's current trainer. */
  buildRows() {
    for (const row of this.rows) this.rebuild(row);
    this.redraw(true);
  }

  /** A fresh Run for this row (closing its old one), unless its settings are invalid. */
  async rebuild(row) {
    row.run?.close();
    row.run = null;
    row.curves = new Curves();
    row.error = null;
    const problem = this.problemOf(row);
    const data = problem ? null : this.host.data(this.settingsOf(row));
    if (problem || !data) {
      row.state = 'idle';
      row.error = problem?.message ?? null;
      this.render();
      return;
    }
    const { config, options } = toTrainerConfig(this.settingsOf(row));
    const key = JSON.stringify([config, options]);
    row.key = key;
    row.state = 'loading';
    this.render();
    let run;
    try {
      run = await Run.create({ dataset: data, config, ...options, evalEvery: this.host.evalEvery() });
    } catch (err) {
      if (row.key !== key || !this.rows.includes(row)) return;
      row.state = 'failed';
      row.error = err.message;
      this.render();
      return;
    }
    if (row.key !== key || !this.rows.includes(row)) {
      run.close(); // rebuilt or removed while it was loading
      return;
    }
    row.run = run;
    row.state = run.state;
    for (const e of run.history.evals) row.curves.addEval(e);
    run.on('metrics', (m) => { row.curves.addMetrics(m); this.redrawSoon(); });
    run.on('eval', (e) => { row.curves.addEval(e); this.redrawSoon(); });
    run.on('state', (s) => { row.state = s.state; this.render(); });
    run.on('error', (e) => {
      row.error = e.message;
      if (e.fatal) row.state = 'failed';
      this.render();
    });
    this.redraw(true);
    // A run added while the others train joins them (from its first step).
    if (this.running) run.start().catch(() => {});
    this.render();
  }

  start() {
    this.running = true;
    for (const row of this.rows) row.run?.start().catch(() => {});
  }

  pause() {
    this.running = false;
    return Promise.all(this.rows.map((row) => row.run?.pause().catch(() => {})));
  }

  step(n) {
    for (const row of this.rows) row.run?.step(n).catch(() => {});
  }

  /** A's lr or ρ changed on the live trainer: the runs that do not set their own follow. */
  setLive(change) {
    for (const row of this.rows) {
      const own = Object.fromEntries(Object.entries(change).filter(([key]) => row.overrides[key] === undefined));
      if (own.rho !== undefined && this.settingsOf(row).sam === 'none') delete own.rho;
      if (Object.keys(own).length) row.run?.set(own).catch((err) => { row.error = err.message; this.render(); });
    }
  }

  /** A's messages (from the page's own worker). */
  baseMetrics(m) {
    this.base.addMetrics(m);
    this.redrawSoon();
  }

  baseEval(e) {
    this.base.addEval(e);
    this.redrawSoon();
  }

  baseCleared() {
    this.base = new Curves();
    this.redraw(true);
  }

  /** Closes every compared run (the page is going away, or A's worker crashed). */
  closeAll() {
    this.running = false;
    for (const row of this.rows) {
      row.run?.close();
      row.run = null;
      row.state = 'idle';
    }
    this.render();
  }

  // -------------------------------------------------------------------------------------------
  // The rows

  labels() {
    const settings = [this.host.base(), ...this.rows.map((r) => this.settingsOf(r))];
    return runLabels(settings).map((label, i) => `${NAMES[i]}: ${label}`);
  }

  render() {
    const list = $('compare-runs');
    const labels = this.labels();
    const base = document.createElement('li');
    base.className = 'compare-run';
    base.style.setProperty('--run-color', COLORS[0]);
    base.textContent = `${labels[0]} (the settings on the left)`;
    const items = [base];
    this.rows.forEach((row, i) => items.push(this.rowElement(row, i + 1, labels[i + 1])));
    list.replaceChildren(...items);
    $('compare-add').disabled = this.rows.length >= MAX_COMPARED;
    $('compare-charts').hidden = this.rows.length === 0;
    if (this.rows.length) this.redraw(true);
  }

  rowElement(row, index, label) {
    const s = this.settingsOf(row);
    const li = document.createElement('li');
    li.className = 'compare-run';
    li.style.setProperty('--run-color', COLORS[index]);
    const name = NAMES[index];
    const title = document.createElement('span');
    title.className = 'compare-label';
    title.textContent = label;
    const select = (key, choices, names) => {
      const el = document.createElement('select');
      el.setAttribute('aria-label', `run ${name}: ${key === 'sam' ? 'SAM mode' : 'optimizer'}`);
      for (const c of choices) el.add(new Option(names(c), c, false, s[key] === c));
      el.addEventListener('change', () => this.edit(row, key, el.value));
      return el;
    };
    const text = (key, aria, value, size = 6) => {
      const el = document.createElement('input');
      el.type = 'text';
      el.size = size;
      el.value = value;
      el.spellcheck = false;
      el.autocomplete = 'off';
      el.setAttribute('aria-label', `run ${name}: ${aria}`);
      el.addEventListener('change', () => this.edit(row, key, el.value.trim()));
      return el;
    };
    const optimizer = select('optimizer', OPTIMIZERS, (o) => OPTIMIZER_NAMES[o] ?? o);
    const sam = select('sam', SAM_MODES, (m) => SAM_INFO[m]?.name ?? m);
    const rho = text('rho', 'ρ', s.sam === 'none' ? '' : s.rho);
    rho.disabled = s.sam === 'none';
    const lr = text('lr', 'learning rate', s.lr);
    const others = Object.fromEntries(Object.entries(row.overrides).filter(([k]) => !ROW_KEYS.includes(k)));
    const other = text('other', 'other settings as KEY:VALUE pairs', row.unreadable ?? overridesText(others), 14);
    other.placeholder = 'e.g. k:5,alpha:0.2';
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = '×';
    remove.title = `Remove run ${name}`;
    remove.setAttribute('aria-label', `Remove run ${name}`);
    remove.addEventListener('click', () => this.remove(row));
    const status = document.createElement('span');
    status.className = 'compare-state';
    status.textContent = row.state === 'idle' ? '' : row.state;
    const fields = document.createElement('span');
    fields.className = 'compare-fields';
    const labelled = (text, el) => {
      const l = document.createElement('label');
      l.append(`${text} `, el);
      return l;
    };
    fields.append(optimizer, sam, labelled('ρ', rho), labelled('lr', lr), other, remove, status);
    li.append(title, fields);
    if (row.error) {
      const error = document.createElement('p');
      error.className = 'field-error';
      error.setAttribute('role', 'alert');
      error.textContent = row.error;
      li.append(error);
    }
    return li;
  }

  /** A row's field changed: its overrides follow (a value equal to A's is no override). */
  edit(row, key, value) {
    const base = this.host.base();
    if (key === 'other') {
      const parsed = value === '' ? {} : parseOverrides(value);
      if (parsed === null) {
        row.unreadable = value;
      } else {
        row.unreadable = null;
        for (const k of Object.keys(row.overrides)) if (!ROW_KEYS.includes(k)) delete row.overrides[k];
        Object.assign(row.overrides, parsed);
      }
    } else if (key === 'sam') {
      // A new mode brings its own ρ (comparedSettings), unless ρ is set for it below.
      delete row.overrides.rho;
      row.overrides.sam = value;
    } else if (key === 'optimizer') {
      delete row.overrides.lr;
      row.overrides.optimizer = value;
    } else {
      row.overrides[key] = value;
    }
    for (const k of ROW_KEYS) if (row.overrides[k] !== undefined && row.overrides[k] === base[k] && !(k === 'rho' && row.overrides.sam !== undefined && row.overrides.sam !== base.sam)) delete row.overrides[k];
    this.rebuild(row);
    this.host.onChange();
  }

  // -------------------------------------------------------------------------------------------
  // The charts

  redrawSoon() {
    if (this.frame || !this.rows.length) return;
    this.frame = requestAnimationFrame(() => this.redraw());
  }

  /** Draw every run's curves; `rebuild`: the runs, their labels or the axis changed. */
  redraw(rebuild = false) {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (!this.rows.length) return;
    const labels = this.labels();
    const key = JSON.stringify([labels, this.axis]);
    if (rebuild || key !== this.plotKey || !this.plots) this.createPlots(labels);
    this.plotKey = key;
    for (const [kind, plot] of Object.entries(this.plots)) {
      plot.setData(this.dataFor(kind));
      if (!(plot.cursor.left >= 0) && plot.data[0].length > 0) plot.setLegend({ idx: plot.data[0].length - 1 });
    }
  }

  allCurves() {
    return [this.base, ...this.rows.map((r) => r.curves)];
  }

  dataFor(kind) {
    const tables = [];
    for (const c of this.allCurves()) {
      if (kind === 'gap') {
        tables.push(table(c.test, this.axis, 'gap'));
      } else {
        const train = table(c.train, this.axis, kind);
        const test = table(c.test, this.axis, kind);
        tables.push(train, test);
      }
    }
    // Runs have their points at different x (seconds, passes): align them on one x; a run's
    // missing values there are bridged (spanGaps).
    const nonEmpty = tables.map((t) => (t[0].length ? t : [[0], [null]]));
    return uPlot.join(nonEmpty);
  }

  createPlots(labels) {
    for (const plot of Object.values(this.plots ?? {})) plot.destroy();
    this.observer.disconnect();
    this.plots = {};
    for (const kind of ['accuracy', 'loss', 'gap']) {
      const el = $(`compare-${kind}`).querySelector('.plot');
      this.plots[kind] = new uPlot(chartOptions(kind, labels, AXES[this.axis]), this.dataFor(kind), el);
      this.observer.observe(el);
    }
    this.resize();
  }

  resize() {
    for (const [kind, plot] of Object.entries(this.plots ?? {})) {
      const el = $(`compare-${kind}`).querySelector('.plot');
      const width = Math.floor(el.clientWidth);
      if (width <= 0) continue;
      const height = Math.round(Math.max(130, Math.min(260, width * 0.55)));
      if (plot.width !== width || plot.height !== height) plot.setSize({ width, height });
    }
  }

  /** For tests and the curious (window.samlab.compare). */
  snapshot() {
    const copy = (points) => points.map((p) => ({ ...p }));
    return {
      axis: this.axis,
      labels: this.labels(),
      runs: [
        { name: 'A', state: null, error: null, overrides: null, train: copy(this.base.train), test: copy(this.base.test) },
        ...this.rows.map((r, i) => ({
          name: NAMES[i + 1], state: r.state, error: r.error, overrides: { ...r.overrides },
          train: copy(r.curves.train), test: copy(r.curves.test),
        })),
      ],
      drawn: Object.fromEntries(Object.entries(this.plots ?? {}).map(([k, p]) => [k, p.series.length - 1])),
    };
  }

  /** Test hook: run i's weights now (1 = B, …), as safetensors bytes. */
  weights(i) {
    const run = this.rows[i - 1]?.run;
    return run ? run.saveWeights() : Promise.reject(new Error(`There is no run ${NAMES[i] ?? i}.`));
  }
}
