// The sharpness panel: λ_max and tr(H) tracked during training (a uPlot chart), "Measure now"
// (λ_max, tr(H) ± its error, worst-case ρ-sharpness, in words), and the loss landscape on demand:
// a 1-D slice or interpolation (uPlot) or a 2-D plane (heatmap with contour lines, landscape.js).
//
// The worker runs every measurement between training chunks (docs/web.md, "Sharpness and the loss
// landscape"); this module only sends the requests and draws the answers. main.js owns the worker
// and hands over its messages: `sharpness`, `landscape`, `probing`, the errors whose field is
// `sharpness` or `landscape`, and the `done` of those commands.

import uPlot from './vendor/uPlot.esm.js';

/** A tracked measurement: cheap, at most 2·10 + 2·4 gradients of 256 test images. */
export const TRACK_REQUEST = Object.freeze({ rows: 256, top: 1, maxIterations: 10, traceSamples: 4 });
/** "Measure now": a little more careful (rho is added: the run's ρ, or 0.05). */
export const MEASURE_REQUEST = Object.freeze({ rows: 256, top: 1, maxIterations: 20, tolerance: 1e-3, traceSamples: 8, ascentSteps: 3 });
export const DEFAULT_TRACK_EVERY = 200;
export const LANDSCAPE_ROWS = 256;
/** Points per axis by kind (the plane's are per axis: 21 × 21 = 441 forward passes). */
export const LANDSCAPE_POINTS = Object.freeze({ line: 51, plane: 21, interpolation: 51 });
const MAX_POINTS = { line: 1001, plane: 101, interpolation: 1001 };
const FALLBACK_RHO = 0.05;

const COLORS = { lambda: '#7c3aed', trace: '#0891b2', loss: '#2563eb', accuracy: '#ea580c' };
const TRAINER_STATES = new Set(['ready', 'running', 'paused', 'done']);

const $ = (id) => document.getElementById(id);

/** Numbers in words: 4 significant digits, an exponent only for very large or small values. */
export function fmt(v, digits = 4) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(2);
  return String(Number(v.toPrecision(digits)));
}

function seconds(s) {
  if (!(s >= 0)) return '';
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.round(s / 60)} min`;
}

/** A whole number in [lo, hi] from the text, or null. */
function wholeNumber(text, lo, hi) {
  const t = String(text ?? '').trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= lo && n <= hi ? n : null;
}

function numberIn(text, test) {
  const t = String(text ?? '').trim();
  if (!/^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) && test(n) ? n : null;
}

/** uPlot hooks: without the pointer on the chart, the legend reads the point `idxOf(u)` (uPlot
 *  clears it on new data, resizes and when the pointer leaves, then fires setLegend or setCursor;
 *  the hook's own setLegend fires nothing). */
function restingLegend(idxOf) {
  const rest = (u) => {
    if (u.cursor.idx != null) return;
    const idx = idxOf(u);
    if (idx != null && idx >= 0 && u.legend.idx !== idx) u.setLegend({ idx }, false);
  };
  return { setCursor: [rest], setLegend: [rest] };
}

const stepAxis = () => ({ incrs: [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((p) => m * p)).sort((a, b) => a - b) });

export class ProbePanel {
  /**
   * `send(message, transfer?)` posts to the worker; `context()` → {state, settings, latest,
   * info, weights: {bytes, name} | null} (weights: the last saved or loaded, for the interpolation).
   */
  constructor({ send, context }) {
    this.send = send;
    this.context = context;
    this.series = { step: [], lambda: [], trace: [], traceError: [] };
    this.lastMeasure = null;
    this.lastLine = null;
    this.lastPlane = null;
    this.planeContours = 0;
    this.pending = { sharpness: false, landscape: false };
    this.busy = null; // {what, since, count, estimate}: the measurement the page waits for
    this.ticker = 0;
    this.msPerPoint = null; // of the last landscape
    this.msPerGradient = null; // of the last sharpness measurement
    this.errors = { sharpness: '', landscape: '' };
    this.appliedTracking = null; // the `track` message the worker has (its JSON)
    this.drawPlane = null; // landscape.js's renderPlane once loaded

    // A link's `track=N` (main.js) may have filled it already.
    if ($('trackEvery').value === '') $('trackEvery').value = String(DEFAULT_TRACK_EVERY);
    $('landscapePoints').value = String(LANDSCAPE_POINTS.line);
    $('landscapeSpan').value = '1';
    this.kind = $('landscapeKind').value;
    $('track').addEventListener('change', () => this.syncTracking());
    $('trackEvery').addEventListener('input', () => this.syncTracking());
    $('measure').addEventListener('click', () => this.measure());
    $('landscape').addEventListener('click', () => this.landscape());
    $('landscapeKind').addEventListener('change', () => {
      // A new kind brings its own default number of points, unless the user typed another.
      const points = $('landscapePoints');
      if (Number(points.value) === LANDSCAPE_POINTS[this.kind]) points.value = String(LANDSCAPE_POINTS[$('landscapeKind').value]);
      this.kind = $('landscapeKind').value;
      this.render();
    });
    for (const id of ['landscapePoints', 'landscapeSpan']) $(id).addEventListener('input', () => this.render());

    // Made when first shown: the tracked chart once tracking is on (or it has points), the curve
    // with the first 1-D landscape.
    this.plots = { hessian: null, line: null };
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe($('chart-hessian'));
    this.observer.observe($('landscape-line'));
    this.resize();
    this.render();
  }

  // -------------------------------------------------------------------------------------------
  // Charts

  hessianOptions() {
    const errorOf = (idx) => this.series.traceError[idx];
    return {
      width: 300,
      height: 180,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: restingLegend((u) => (u.data[0].length ? u.data[0].length - 1 : null)), // the latest
      scales: { x: { time: false }, lambda: { auto: true }, trace: { auto: true } },
      axes: [
        stepAxis(),
        { scale: 'lambda', stroke: COLORS.lambda, size: 50 },
        { scale: 'trace', side: 1, stroke: COLORS.trace, size: 50, grid: { show: false } },
      ],
      series: [
        { label: 'step', value: (_u, v) => (v == null ? '–' : String(v)) },
        { label: 'λ_max', scale: 'lambda', stroke: COLORS.lambda, width: 2, spanGaps: true, points: { show: true, size: 5 }, value: (_u, v) => fmt(v) },
        {
          label: 'tr(H)', scale: 'trace', stroke: COLORS.trace, width: 1.5, dash: [5, 3], spanGaps: true, points: { show: true, size: 4 },
          value: (_u, v, _s, idx) => (v == null ? '–' : `${fmt(v)} ± ${fmt(errorOf(idx), 2)}`),
        },
      ],
    };
  }

  hessianData() {
    const s = this.series;
    return [s.step, s.lambda, s.trace];
  }

  lineOptions(kind) {
    const interpolation = kind === 'interpolation';
    return {
      width: 300,
      height: 180,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      hooks: restingLegend((u) => u.data[0].findIndex((a) => Math.abs(a) < 1e-9)), // α = 0 (t = 0)
      scales: { x: { time: false }, loss: { auto: true }, acc: { range: [0, 1] } },
      axes: [
        { label: interpolation ? 't (0: current weights, 1: saved weights)' : 'α (along a random direction)', labelSize: 18, size: 36 },
        { scale: 'loss', stroke: COLORS.loss, size: 50 },
        { scale: 'acc', side: 1, stroke: COLORS.accuracy, size: 52, grid: { show: false }, values: (_u, vs) => vs.map((v) => `${Math.round(v * 100)}%`) },
      ],
      series: [
        { label: interpolation ? 't' : 'α', value: (_u, v) => (v == null ? '–' : fmt(v, 3)) },
        { label: 'loss', scale: 'loss', stroke: COLORS.loss, width: 2, value: (_u, v) => fmt(v) },
        { label: 'accuracy', scale: 'acc', stroke: COLORS.accuracy, width: 1.5, dash: [4, 3], value: (_u, v) => (v == null ? '–' : `${(v * 100).toFixed(1)}%`) },
      ],
    };
  }

  resize() {
    for (const [name, id] of [['hessian', 'chart-hessian'], ['line', 'landscape-line']]) {
      const plot = this.plots[name];
      if (!plot) continue;
      const el = $(id).querySelector('.plot');
      const width = Math.floor(el.clientWidth);
      if (width <= 0) continue;
      const height = Math.round(Math.max(130, Math.min(220, width * 0.5)));
      if (plot.width !== width || plot.height !== height) plot.setSize({ width, height });
    }
  }

  redrawHessian() {
    const plot = this.plots.hessian;
    if (!plot) return;
    plot.setData(this.hessianData());
  }

  // -------------------------------------------------------------------------------------------
  // Settings of the panel

  /** every: the tracking interval (null when the text is not a whole number ≥ 1). */
  trackingSetting() {
    return { on: $('track').checked, every: wholeNumber($('trackEvery').value, 1, 1_000_000) };
  }

  /** Tell the worker (the current one, or a new one: `force`) what to track. */
  syncTracking(force = false) {
    const { on, every } = this.trackingSetting();
    this.render();
    if (on && every === null) return; // the message beside the field says why; nothing changes
    const message = { type: 'track', every: on ? every : 0, request: TRACK_REQUEST };
    const key = JSON.stringify(message);
    if (!force && key === this.appliedTracking) return;
    this.appliedTracking = key;
    if (on) this.setError('sharpness', '');
    this.send(message);
  }

  /** The landscape the fields ask for: {request, count, error}. */
  landscapeRequest() {
    const kind = $('landscapeKind').value;
    const points = wholeNumber($('landscapePoints').value, 2, MAX_POINTS[kind]);
    const span = numberIn($('landscapeSpan').value, (v) => v > 0 && v <= 100);
    let error = '';
    if (points === null) error = `Points must be a whole number from 2 to ${MAX_POINTS[kind]}${kind === 'plane' ? ' per axis' : ''}.`;
    else if (span === null) error = 'Span must be a number greater than 0 and at most 100.';
    const request = { kind, rows: LANDSCAPE_ROWS, points: points ?? 0, span: span ?? 0 };
    return { request, count: kind === 'plane' ? (points ?? 0) ** 2 : (points ?? 0), error };
  }

  /** ρ for the worst case: the run's ρ when its SAM mode has one, else 0.05. */
  measureRequest() {
    const s = this.context().settings;
    const rho = Number(String(s.rho ?? '').trim());
    const request = { ...MEASURE_REQUEST, rho: s.sam !== 'none' && String(s.rho ?? '').trim() !== '' && Number.isFinite(rho) && rho > 0 ? rho : FALLBACK_RHO };
    const eta = Number(String(s.eta ?? '').trim());
    if (s.sam === 'asam' && String(s.eta ?? '').trim() !== '' && Number.isFinite(eta) && eta >= 0) request.eta = eta;
    // A rescaled measurement is ASAM's scale-invariance test: it needs the adaptive sharpness too
    // (η = 0 unless the run's ASAM has one), beside SAM's.
    const scale = this.measureScale();
    if (scale !== null && scale !== 1) {
      request.scale = scale;
      if (request.eta === undefined) request.eta = 0;
    }
    return request;
  }

  /** The "at layer 1 ×" field: a number > 0 (empty: 1), or null when it is not one. */
  measureScale() {
    const text = String($('measureScale').value ?? '').trim();
    if (text === '') return 1;
    const a = Number(text);
    return Number.isFinite(a) && a > 0 ? a : null;
  }

  /** About how long `count` forward passes of LANDSCAPE_ROWS images take (null: unknown): from
   *  the last landscape, else the last measurement's time per gradient, else (roughly) the
   *  training speed: a forward pass is about a third of a forward/backward one. */
  estimateSeconds(count) {
    let perPoint = this.msPerPoint ?? (this.msPerGradient === null ? null : this.msPerGradient * 0.6);
    if (perPoint === null) {
      const { latest, info, settings } = this.context();
      const batch = Number(settings.batchSize);
      const passes = info?.passesPerStep;
      if (latest?.msPerStep > 0 && passes > 0 && batch > 0) perPoint = (latest.msPerStep / passes) * (LANDSCAPE_ROWS / batch) / 4;
    }
    return perPoint === null ? null : (count * perPoint) / 1000;
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  measure() {
    if (!this.canMeasure()) return;
    if (this.measureScale() === null) {
      this.setError('sharpness', 'The layer-1 factor must be a number greater than 0 (e.g. 4; empty: 1, the weights as they are).');
      return;
    }
    this.pending.sharpness = true;
    this.setError('sharpness', '');
    this.startBusy('sharpness', 0, null);
    this.send({ type: 'sharpness', request: this.measureRequest() });
    this.render();
  }

  landscape() {
    if (!this.canMeasure()) return;
    const { request, count, error } = this.landscapeRequest();
    if (error) return;
    const message = { type: 'landscape', request };
    const transfer = [];
    if (request.kind === 'interpolation') {
      const weights = this.context().weights;
      if (!weights) return;
      const copy = weights.bytes.slice();
      message.against = copy;
      transfer.push(copy.buffer);
    }
    this.pending.landscape = true;
    this.setError('landscape', '');
    this.startBusy('landscape', count, this.estimateSeconds(count));
    this.send(message, transfer);
    this.render();
  }

  /** Test hook (window.samlab.requestSharpness): any request, as sent, valid or not. */
  requestRaw(request) {
    this.pending.sharpness = true;
    this.setError('sharpness', '');
    this.startBusy('sharpness', 0, null);
    this.send({ type: 'sharpness', request });
    this.render();
  }

  canMeasure() {
    return TRAINER_STATES.has(this.context().state) && !this.pending.sharpness && !this.pending.landscape;
  }

  startBusy(what, count, estimate) {
    this.busy = { what, since: performance.now(), count, estimate };
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.renderBusy(), 500);
    this.renderBusy();
  }

  stopBusy(what) {
    if (this.busy?.what !== what) return;
    this.busy = null;
    clearInterval(this.ticker);
    this.ticker = 0;
  }

  // -------------------------------------------------------------------------------------------
  // Answers from the worker (through main.js)

  onSharpness(msg) {
    if (msg.gradients > 0) this.msPerGradient = msg.ms / (msg.gradients + 2);
    if (msg.reason === 'track') {
      const s = this.series;
      const lambda = msg.eigenvalues[0]?.value;
      s.step.push(msg.step);
      s.lambda.push(Number.isFinite(lambda) ? lambda : null);
      s.trace.push(Number.isFinite(msg.trace?.value) ? msg.trace.value : null);
      s.traceError.push(Number.isFinite(msg.trace?.stdError) ? msg.trace.stdError : null);
      this.lastTracked = msg;
      this.redrawHessian();
      this.renderTrackNote();
      return;
    }
    this.lastMeasure = msg;
    this.setError('sharpness', '');
    this.renderMeasure();
  }

  onLandscape(msg) {
    const count = msg.kind === 'plane' ? msg.axis.length ** 2 : msg.axis.length;
    this.msPerPoint = msg.ms / Math.max(1, count);
    this.setError('landscape', '');
    if (msg.kind === 'plane') {
      this.lastPlane = msg;
      this.showPlane(msg);
    } else {
      this.lastLine = msg;
      this.showLine(msg);
    }
    this.stopBusy('landscape');
    $('landscape-status').textContent = this.describeLandscape(msg);
  }

  onProbing() {
    this.renderBusy();
  }

  /** An error message for the panel (field 'sharpness' or 'landscape'). */
  onError({ field, message, hint, tracking }) {
    if (tracking === false) {
      $('track').checked = false;
      this.appliedTracking = JSON.stringify({ type: 'track', every: 0, request: TRACK_REQUEST });
    }
    this.setError(field, hint ? `${message} ${hint}` : message);
    this.stopBusy(field);
    if (field === 'landscape') $('landscape-status').textContent = '';
    this.render();
  }

  onDone(command) {
    if (command !== 'sharpness' && command !== 'landscape') return;
    this.pending[command] = false;
    this.stopBusy(command);
    if (command === 'sharpness') this.renderMeasure(); // the result, or (after an error) the last one
    this.render();
  }

  /** The worker is gone (Reset, Restart, a crash): nothing is pending any more. */
  workerGone() {
    this.pending = { sharpness: false, landscape: false };
    if (this.busy) {
      this.stopBusy(this.busy.what);
      $('landscape-status').textContent = '';
    }
    this.appliedTracking = null;
    this.render();
  }

  /** A new run (Reset or a new trainer): the tracked series, measurements and landscapes go. */
  clear() {
    this.series = { step: [], lambda: [], trace: [], traceError: [] };
    this.lastTracked = null;
    this.lastMeasure = null;
    this.lastLine = null;
    this.lastPlane = null;
    this.planeContours = 0;
    this.setError('sharpness', '');
    this.setError('landscape', '');
    $('measure-result').replaceChildren();
    $('landscape-status').textContent = '';
    $('landscape-line').hidden = true;
    $('landscape-plane').hidden = true;
    $('landscape-plane').querySelector('.heatmap').replaceChildren();
    this.plots.line?.setData([[], [], []]);
    this.redrawHessian();
    this.renderTrackNote();
  }

  // -------------------------------------------------------------------------------------------
  // Drawing

  showLine(msg) {
    const figure = $('landscape-line');
    figure.hidden = false;
    if (!this.plots.line || this.lineKind !== msg.kind) {
      // The x axis says α or t: a new chart for the other kind.
      this.lineKind = msg.kind;
      this.plots.line?.destroy();
      this.plots.line = new uPlot(this.lineOptions(msg.kind), [[], [], []], figure.querySelector('.plot'));
    }
    const what = msg.kind === 'interpolation'
      ? 'Loss on the straight line from the current weights (t = 0) to the saved weights (t = 1)'
      : 'Loss along one random filter-normalised direction (α = 0: the current weights)';
    figure.querySelector('figcaption').textContent = `${what}, step ${msg.step}`;
    this.plots.line.setData([msg.axis, msg.loss[0] ?? [], msg.accuracy[0] ?? []]);
    this.resize();
  }

  async showPlane(msg) {
    const figure = $('landscape-plane');
    figure.hidden = false;
    figure.querySelector('figcaption').textContent = `Loss on the plane of two random filter-normalised directions, step ${msg.step}`;
    const readout = figure.querySelector('.readout');
    const idle = 'Point at the map to read the loss there; the dot is the current weights.';
    readout.textContent = idle;
    try {
      if (!this.drawPlane) this.drawPlane = (await import('./landscape.js')).renderPlane;
      if (this.lastPlane !== msg) return; // cleared or replaced meanwhile
      const drawn = this.drawPlane(figure.querySelector('.heatmap'), msg, {
        onHover: (p) => {
          readout.textContent = p
            ? `α ${fmt(p.alpha, 3)}, β ${fmt(p.beta, 3)}: loss ${fmt(p.loss)}${p.accuracy == null ? '' : `, accuracy ${(p.accuracy * 100).toFixed(1)}%`}`
            : idle;
        },
      });
      this.planeContours = drawn.contours;
    } catch (err) {
      this.setError('landscape', `The plane could not be drawn (${String(err?.message ?? err).split('\n')[0]}); the numbers are in window.samlab.sharpness.plane.`);
    }
  }

  describeLandscape(msg) {
    const n = msg.axis.length;
    const count = msg.kind === 'plane' ? n * n : n;
    const grid = msg.kind === 'plane' ? `${n} × ${n} points` : `${n} points`;
    const values = msg.loss.flat().filter(Number.isFinite);
    const centre = valueAtZero(msg); // α = 0, α = β = 0, or t = 0: the current weights
    const range = values.length ? `; loss from ${fmt(Math.min(...values), 3)} to ${fmt(Math.max(...values), 3)}` : '';
    const atCentre = centre === null ? '' : ` (${fmt(centre)} at the current weights)`;
    const diverged = values.length < count ? `; ${count - values.length} points had no finite loss` : '';
    return `${grid} at step ${msg.step} on ${msg.rows} test images: ${count} forward passes in ${seconds(msg.ms / 1000)} (${fmt(msg.ms / count, 2)} ms each)${range}${atCentre}${diverged}.`;
  }

  renderBusy() {
    const b = this.busy;
    if (!b) return;
    const elapsed = (performance.now() - b.since) / 1000;
    if (b.what === 'landscape') {
      const estimate = b.estimate === null ? '' : ` of about ${seconds(Math.max(b.estimate, 0.1))}`;
      $('landscape-status').textContent = `Computing ${b.count} points… ${seconds(elapsed)}${estimate}. Training (if running) waits meanwhile.`;
    } else {
      $('measure-result').replaceChildren(Object.assign(document.createElement('p'), { textContent: `Measuring… ${seconds(elapsed)}` }));
    }
  }

  renderMeasure() {
    const m = this.lastMeasure;
    const box = $('measure-result');
    if (!m) {
      box.replaceChildren();
      return;
    }
    const lines = [];
    lines.push(`Step ${m.step}, on ${m.rows} test images: loss ${fmt(m.loss)}, accuracy ${(m.accuracy * 100).toFixed(2)}%.`);
    if (m.request?.scale !== undefined && m.request.scale !== 1) {
      lines.push(`Measured with layer 1 × ${fmt(m.request.scale)} and layer 2 × 1/${fmt(m.request.scale)}: the same function (the loss and accuracy above do not change), other weights.`);
    }
    const e = m.eigenvalues[0];
    if (e && Number.isFinite(e.value)) {
      const how = e.converged
        ? `converged after ${e.iterations} iteration${e.iterations === 1 ? '' : 's'}`
        : `not converged after ${e.iterations} iterations: a rough value`;
      lines.push(`λ_max ≈ ${fmt(e.value)}: the largest curvature of the loss (power iteration, ${how}).`);
    } else if (e) {
      lines.push('λ_max could not be measured: the loss is not finite at these weights.');
    }
    if (m.trace && Number.isFinite(m.trace.value)) {
      lines.push(`tr(H) ≈ ${fmt(m.trace.value)} ± ${fmt(m.trace.stdError, 2)}: the total curvature (Hutchinson's estimate from ${m.trace.samples} random directions; ± one standard error).`);
    }
    if (m.worstCase !== null && m.request?.rho > 0) {
      lines.push(`Worst-case sharpness for ρ = ${fmt(m.request.rho)}: the loss rises by at most about ${fmt(m.worstCase)} within ‖δ‖ ≤ ρ of the weights (max L(w+δ) − L(w), ${m.request.ascentSteps ?? 3} ascent steps).`);
    }
    if (m.adaptiveWorstCase !== null && m.request?.eta !== undefined) {
      lines.push(`In ASAM's adaptive ball (η = ${fmt(m.request.eta)}): about ${fmt(m.adaptiveWorstCase)}.`);
    }
    lines.push(`Took ${seconds(m.ms / 1000)} (${m.gradients} gradient evaluations).`);
    box.replaceChildren(...lines.map((text) => Object.assign(document.createElement('p'), { textContent: text })));
  }

  renderTrackNote() {
    const { on, every } = this.trackingSetting();
    const last = this.lastTracked;
    let text = `Each measurement: λ_max by at most ${TRACK_REQUEST.maxIterations} power iterations and tr(H) from ${TRACK_REQUEST.traceSamples} random directions, on ${TRACK_REQUEST.rows} test images (at most ${2 * (TRACK_REQUEST.maxIterations + TRACK_REQUEST.traceSamples)} gradient evaluations); training waits while it runs.`;
    if (on && every !== null && last) text += ` The last took ${seconds(last.ms / 1000)} (step ${last.step}).`;
    const note = $('track-note');
    if (note.textContent !== text) note.textContent = text;
  }

  setError(field, text) {
    this.errors[field] = text;
    const slot = $(`${field}-error`);
    if (slot && slot.textContent !== text) slot.textContent = text;
  }

  /** Buttons and field messages (main.js calls it with every render). */
  render() {
    const ctx = this.context();
    const noGpu = ctx.state === 'checking' || ctx.state === 'nogpu';
    const { on, every } = this.trackingSetting();
    $('track').disabled = noGpu;
    $('trackEvery').disabled = noGpu;
    const trackError = on && every === null ? 'Measure every N steps: N must be a whole number from 1 to 1,000,000.' : '';
    if ($('trackEvery-error').textContent !== trackError) $('trackEvery-error').textContent = trackError;
    $('trackEvery').setAttribute('aria-invalid', trackError ? 'true' : 'false');
    // The tracked chart takes room only while tracking is on or it has points.
    $('chart-hessian').hidden = !on && this.series.step.length === 0;
    if (!$('chart-hessian').hidden && !this.plots.hessian) {
      this.plots.hessian = new uPlot(this.hessianOptions(), this.hessianData(), $('chart-hessian').querySelector('.plot'));
      this.resize();
    }
    const can = this.canMeasure();
    $('measure').disabled = noGpu || !can;
    const { count, error, request } = this.landscapeRequest();
    const interpolation = request.kind === 'interpolation';
    const needWeights = interpolation && !ctx.weights;
    $('landscape').disabled = noGpu || !can || Boolean(error) || needWeights;
    $('landscapePoints').setAttribute('aria-invalid', error.startsWith('Points') ? 'true' : 'false');
    $('landscapeSpan').setAttribute('aria-invalid', error.startsWith('Span') ? 'true' : 'false');
    let hint = error;
    if (!hint && needWeights) hint = 'The interpolation runs to the weights you last saved or loaded: save or load weights first.';
    if (!hint && !this.busy) {
      const estimate = this.estimateSeconds(count);
      const each = `one forward pass of ${LANDSCAPE_ROWS} test images each`;
      const what = request.kind === 'plane' ? `${request.points} × ${request.points} = ${count} points` : `${count} points`;
      hint = `${what}, ${each}${estimate === null ? '' : `: about ${seconds(Math.max(estimate, 0.1))}`}.`;
    }
    const note = $('landscape-note');
    if (note.textContent !== hint) note.textContent = hint;
    note.classList.toggle('invalid', Boolean(error));
    this.renderTrackNote();
  }

  /** For window.samlab.sharpness (copies). */
  snapshot() {
    const s = this.series;
    const copy = (m) => m && JSON.parse(JSON.stringify(m));
    const { on, every } = this.trackingSetting();
    return {
      tracking: { on, every },
      series: { step: s.step.slice(), lambda: s.lambda.slice(), trace: s.trace.slice(), traceError: s.traceError.slice() },
      drawn: this.plots.hessian?.data?.[0]?.length ?? 0,
      lastMeasure: copy(this.lastMeasure),
      line: copy(this.lastLine),
      plane: copy(this.lastPlane),
      planeContours: this.planeContours,
      busy: this.busy ? this.busy.what : null,
      errors: { ...this.errors },
    };
  }
}

/** The loss at α = 0 (α = β = 0; t = 0) when the grid has that point, else null. */
function valueAtZero(msg) {
  const i = msg.axis.findIndex((a) => Math.abs(a) < 1e-9);
  if (i < 0) return null;
  return msg.kind === 'plane' ? msg.loss[i]?.[i] ?? null : msg.loss[0]?.[i] ?? null;
}
