// "SAM in two dimensions": SGD, SAM and ASAM stepping side by side on a classic 2-D loss surface,
// drawn as a heatmap with contour lines and the trajectories on top, with the last step's ascent
// arrow w → w + ε (dashed) and descent arrow from w + ε along −lr·∇L(w + ε), the step the update
// takes (solid).
//
// The steps are the training's own: each run is a wasm `Surface2d` whose two parameters sit in a
// flat parameter buffer stepped by the same SAM perturb, flat-reduction and optimizer kernels as a
// network (src/surface/); the surface's loss and gradient come from shaders/surface.wgsl, which
// also computes the heatmap. It runs in the page's own thread on a device of its own: a 2-parameter
// step is a few tiny dispatches and every read is awaited, so the page never waits on the GPU, and
// the worker's training goes on undisturbed (docs/web.md). The wasm module and the d3 modules
// (landscape.js's lazy path) load when the panel first comes into view.

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

/** The runs, in drawing order: the SAM form each one uses and its colour on the plot. */
export const RUNS = Object.freeze([
  { id: 'sgd', sam: 'none', label: 'SGD', colour: '#f97316' },
  { id: 'sam', sam: 'sam', label: 'SAM', colour: '#ef4444' },
  { id: 'asam', sam: 'asam', label: 'ASAM', colour: '#e879f9' },
]);
/** Grid points per side of the heatmap. */
const GRID = 101;
/** Colour bands (and contour lines between them). */
const LEVELS = 14;
/** The drawing in viewBox units. */
const BOX = { width: 360, height: 350, left: 42, top: 8, size: 300 };
/** The learning-rate slider's values: 1, 1.5, 2, 3, 4, 5, 6, 8 per decade from 10⁻⁴ to 1 (the
 *  surfaces' suggested rates among them). */
const LR_VALUES = Object.freeze([-4, -3, -2, -1].flatMap((e) => [1, 1.5, 2, 3, 4, 5, 6, 8].map((m) => Number((m * 10 ** e).toPrecision(2)))).concat(1));
/** The condition-number slider (quadratic only): κ = 10^(value/20), 1 to 1000. */
const KAPPA_PER_DECADE = 20;
/** A run whose point leaves its square by this many widths has diverged: play stops. */
const FAR = 20;

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** 3 significant digits, no exponent for ordinary sizes. */
export function fmt(v) {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

const lrFromSlider = (value) => LR_VALUES[Number(value)] ?? LR_VALUES[0];
/** The slider position of the value nearest to `lr` (on a log scale). */
const sliderFromLr = (lr) => {
  const distance = (v) => Math.abs(Math.log(v / lr));
  return LR_VALUES.reduce((best, v, i) => (distance(v) < distance(LR_VALUES[best]) ? i : best), 0);
};
const kappaFromSlider = (value) => Number((10 ** (Number(value) / KAPPA_PER_DECADE)).toPrecision(3));
const sliderFromKappa = (k) => Math.round(Math.log10(k) * KAPPA_PER_DECADE);

export class Toy2dPanel {
  /** `root`: the #toy2d section (index.html). Nothing loads until it comes into view. */
  constructor(root) {
    this.root = root;
    this.engine = null; // {Surface2d} once the wasm module is loaded
    this.d3 = null;
    this.surfaces = [];
    this.info = null; // the chosen surface's {name, title, formula, domain, start, lr, rho, rhoAsam, note}
    this.runs = new Map(); // id → {surface2d, points: [TracePoint]}
    this.start = null;
    this.grid = null;
    this.contours = 0;
    this.playing = false;
    this.busy = false;
    this.error = '';
    this.generation = 0; // bumps on every rebuild, so answers for an older surface are dropped
    this.loading = null;

    $('toy2d-lr').max = String(LR_VALUES.length - 1);
    $('toy2d-surface').addEventListener('change', () => this.rebuild({ suggested: true }));
    $('toy2d-kappa').addEventListener('change', () => this.rebuild({ suggested: true }));
    $('toy2d-kappa').addEventListener('input', () => this.renderValues());
    $('toy2d-lr').addEventListener('input', () => this.applySliders());
    $('toy2d-rho').addEventListener('input', () => this.applySliders());
    $('toy2d-rho-asam').addEventListener('input', () => this.applySliders());
    for (const run of RUNS) $(`toy2d-show-${run.id}`).addEventListener('change', () => this.draw());
    $('toy2d-step').addEventListener('click', () => this.stepOnce());
    $('toy2d-play').addEventListener('click', () => (this.playing ? this.pause() : this.play()));
    $('toy2d-reset').addEventListener('click', () => this.restart(this.info?.start));

    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        observer.disconnect();
        this.load();
      }
    });
    observer.observe(root);
  }

  /** Loads the wasm module and d3, then builds the runs for the chosen surface. */
  load() {
    this.loading ??= (async () => {
      this.setStatus('Loading…');
      try {
        const [wasm, contour, geo, chromatic] = await Promise.all([
          import('./pkg/samlab.js'),
          import('d3-contour'),
          import('d3-geo'),
          import('d3-scale-chromatic'),
        ]);
        await wasm.default();
        this.engine = wasm;
        this.d3 = { contours: contour.contours, geoIdentity: geo.geoIdentity, geoPath: geo.geoPath, colour: chromatic.interpolateViridis };
        this.surfaces = wasm.Surface2d.surfaces();
        await this.rebuild({ suggested: true });
      } catch (err) {
        this.fail(err);
      }
    })();
    return this.loading;
  }

  /** The surface as chosen ({name, condition}). */
  choice() {
    const name = $('toy2d-surface').value;
    return { name, condition: name === 'quadratic' ? kappaFromSlider($('toy2d-kappa').value) : undefined };
  }

  /** New runs (and heatmap) for the chosen surface; `suggested` resets lr and ρ to its values. */
  async rebuild({ suggested }) {
    if (!this.engine) return;
    this.pause();
    const generation = ++this.generation;
    const { name, condition } = this.choice();
    $('toy2d-kappa-field').hidden = name !== 'quadratic';
    const info = this.surfaces.find((s) => s.name === name);
    this.info = { ...info, lr: name === 'quadratic' ? 1 / condition : info.lr };
    if (suggested) {
      $('toy2d-lr').value = String(sliderFromLr(this.info.lr));
      $('toy2d-rho').value = String(this.info.rho);
      $('toy2d-rho-asam').value = String(this.info.rhoAsam);
    }
    this.renderValues();
    this.setBusy(true);
    this.setStatus('Building…');
    try {
      const { Surface2d } = this.engine;
      const { lr, rho, rhoAsam } = this.sliders();
      const built = await Promise.all(RUNS.map((run) => Surface2d.create({
        surface: name,
        ...(condition !== undefined && { condition }),
        sam: run.sam,
        lr,
        ...(run.sam !== 'none' && { rho: run.sam === 'asam' ? rhoAsam : rho }),
        start: this.info.start,
      })));
      // One step and a reset (fresh momentum, step count 0: the run is as built) compile the
      // kernels now, under "Building…": software adapters (SwiftShader) compile a pipeline at its
      // first dispatch, which would otherwise make the first Step take seconds.
      await Promise.all(built.map((s) => s.step(1)));
      for (const s of built) s.reset(this.info.start[0], this.info.start[1]);
      const grid = await Surface2d.grid(name, GRID, condition);
      if (generation !== this.generation) {
        for (const s of built) s.free();
        return;
      }
      for (const { surface2d } of this.runs.values()) surface2d.free();
      this.runs = new Map(RUNS.map((run, i) => [run.id, { surface2d: built[i], points: [] }]));
      this.grid = grid;
      this.start = [...this.info.start];
      this.error = '';
      $('toy2d-error').textContent = '';
      $('toy2d-note').textContent = `${this.info.title}: L = ${this.info.formula}. ${this.info.note}`;
      this.drawHeatmap();
      this.draw();
      this.setStatus('Ready: Step, Play, or click the plot to choose a start.');
      this.setBusy(false);
    } catch (err) {
      if (generation === this.generation) this.fail(err);
    }
  }

  sliders() {
    return {
      lr: lrFromSlider($('toy2d-lr').value),
      rho: Number($('toy2d-rho').value),
      rhoAsam: Number($('toy2d-rho-asam').value),
    };
  }

  renderValues() {
    const { lr, rho, rhoAsam } = this.sliders();
    $('toy2d-lr-value').textContent = fmt(lr);
    $('toy2d-lr').setAttribute('aria-valuetext', fmt(lr));
    $('toy2d-rho-value').textContent = fmt(rho);
    $('toy2d-rho-asam-value').textContent = fmt(rhoAsam);
    const kappa = kappaFromSlider($('toy2d-kappa').value);
    $('toy2d-kappa-value').textContent = fmt(kappa);
    $('toy2d-kappa').setAttribute('aria-valuetext', fmt(kappa));
  }

  /** lr and ρ go to the runs at once; the next step uses them. */
  applySliders() {
    this.renderValues();
    const { lr, rho, rhoAsam } = this.sliders();
    try {
      for (const run of RUNS) {
        const r = this.runs.get(run.id);
        if (!r) continue;
        r.surface2d.setLearningRate(lr);
        if (run.sam === 'sam') r.surface2d.setRho(rho);
        if (run.sam === 'asam') r.surface2d.setRho(rhoAsam);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  shown() {
    return RUNS.filter((run) => $(`toy2d-show-${run.id}`).checked && this.runs.has(run.id));
  }

  /** One step of every run shown; returns false when nothing could step or a run diverged. */
  async step(n = 1) {
    const generation = this.generation;
    const runs = this.shown().filter((run) => !this.diverged(run.id));
    if (runs.length === 0) return false;
    const answers = await Promise.all(runs.map((run) => this.runs.get(run.id).surface2d.step(n)));
    if (generation !== this.generation) return false;
    runs.forEach((run, i) => this.runs.get(run.id).points.push(...answers[i]));
    this.draw();
    return !runs.some((run) => this.diverged(run.id));
  }

  diverged(id) {
    const last = this.runs.get(id)?.points.at(-1);
    if (!last) return false;
    const [x0, x1, y0, y1] = this.info.domain;
    const [x, y] = last.next;
    const far = FAR * Math.max(x1 - x0, y1 - y0);
    return !(Number.isFinite(x) && Number.isFinite(y) && Math.abs(x) < far && Math.abs(y) < far);
  }

  async stepOnce() {
    if (this.busy || this.playing) return;
    this.setBusy(true);
    try {
      await this.step(1);
      this.reportProgress();
    } catch (err) {
      this.fail(err);
    }
    this.setBusy(false);
  }

  async play() {
    if (this.busy || !this.runs.size) return;
    this.playing = true;
    this.setBusy(true);
    $('toy2d-play').textContent = 'Pause';
    const perFrame = Number($('toy2d-speed').value) || 1;
    try {
      while (this.playing) {
        const going = await this.step(perFrame);
        this.reportProgress();
        if (!going) break;
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
    } catch (err) {
      this.fail(err);
    }
    this.playing = false;
    $('toy2d-play').textContent = 'Play';
    this.setBusy(false);
  }

  pause() {
    this.playing = false;
  }

  /** Every run starts again at `start` with fresh momentum; the trajectories are cleared. */
  restart(start) {
    if (!start || !this.runs.size) return;
    this.pause();
    try {
      for (const r of this.runs.values()) {
        r.surface2d.reset(start[0], start[1]);
        r.points = [];
      }
      this.start = [...start];
      this.draw();
      this.setStatus(`Start (${fmt(start[0])}, ${fmt(start[1])}).`);
    } catch (err) {
      this.fail(err);
    }
  }

  reportProgress() {
    const parts = this.shown().map((run) => {
      const last = this.runs.get(run.id).points.at(-1);
      if (!last) return null;
      const where = this.diverged(run.id) ? 'diverged' : `L ${fmt(last.loss)} at (${fmt(last.w[0])}, ${fmt(last.w[1])})`;
      return `${run.label}: ${where}`;
    }).filter(Boolean);
    const steps = Math.max(0, ...[...this.runs.values()].map((r) => r.points.length));
    this.setStatus(`Step ${steps}, loss where it was taken: ${parts.join('; ')}.`);
  }

  setBusy(busy) {
    this.busy = busy;
    $('toy2d-step').disabled = busy || !this.runs.size;
    $('toy2d-reset').disabled = !this.runs.size;
    $('toy2d-play').disabled = !this.runs.size || (busy && !this.playing);
  }

  setStatus(text) {
    $('toy2d-status').textContent = text;
  }

  fail(err) {
    this.playing = false;
    this.error = String(err?.message ?? err);
    $('toy2d-error').textContent = this.error;
    this.setStatus('');
    this.setBusy(false);
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing

  /** Plot coordinates of a point of the surface's square. */
  toPlot([x, y]) {
    const [x0, x1, y0, y1] = this.info.domain;
    const { left, top, size } = BOX;
    return [left + ((x - x0) / (x1 - x0)) * size, top + size - ((y - y0) / (y1 - y0)) * size];
  }

  fromPlot([px, py]) {
    const [x0, x1, y0, y1] = this.info.domain;
    const { left, top, size } = BOX;
    return [x0 + ((px - left) / size) * (x1 - x0), y0 + ((top + size - py) / size) * (y1 - y0)];
  }

  /** The heatmap: filled contour bands of log10(1 + L − min L) (the surfaces span several orders
   *  of magnitude above their minimum, and some go below zero), their outlines as contour lines. */
  drawHeatmap() {
    const { contours, geoIdentity, geoPath, colour } = this.d3;
    const { n, loss } = this.grid;
    const flat = loss.flat();
    const finite = flat.filter(Number.isFinite);
    const low = Math.min(...finite);
    const scaled = Float64Array.from(flat, (v) => Math.log10(1 + (Number.isFinite(v) ? v : Math.max(...finite)) - low));
    const hi = Math.max(...scaled);
    const thresholds = Array.from({ length: LEVELS }, (_, k) => (hi * k) / LEVELS);
    const bands = contours().size([n, n]).thresholds(thresholds)(scaled);
    const { width, height, left, top, size } = BOX;
    const k = size / (n - 1);
    const path = geoPath(geoIdentity().reflectY(true).scale(k).translate([left - k / 2, top + size + k / 2]));
    const fill = (t) => colour(hi > 0 ? t / hi : 0);

    const svg = el('svg', {
      class: 'toy2d-svg', viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `${this.info.title}: the loss as a heatmap with contour lines, and the optimizers' paths`,
    });
    const defs = el('defs');
    defs.append(el('clipPath', { id: 'toy2d-clip' }));
    defs.lastChild.append(el('rect', { x: left, y: top, width: size, height: size }));
    for (const run of RUNS) {
      const marker = el('marker', {
        id: `toy2d-head-${run.id}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 5, markerHeight: 5, orient: 'auto-start-reverse',
      });
      marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: run.colour }));
      defs.append(marker);
    }
    svg.append(defs);
    const surface = el('g', { 'clip-path': 'url(#toy2d-clip)', class: 'toy2d-surface' });
    surface.append(el('rect', { x: left, y: top, width: size, height: size, fill: fill(0) }));
    for (const band of bands) surface.append(el('path', { class: 'band', d: path(band) ?? '', fill: fill(band.value) }));
    this.contours = 0;
    for (const band of bands.slice(1)) {
      const d = path(band);
      if (!d) continue;
      surface.append(el('path', { class: 'contour', d, fill: 'none' }));
      this.contours += 1;
    }
    svg.append(surface);
    svg.append(el('rect', { x: left, y: top, width: size, height: size, fill: 'none', class: 'frame' }));
    const [x0, x1, y0, y1] = this.info.domain;
    for (let f = 0; f <= 1; f += 0.25) {
      const x = x0 + f * (x1 - x0);
      const y = y0 + f * (y1 - y0);
      const [px] = this.toPlot([x, y0]);
      const [, py] = this.toPlot([x0, y]);
      svg.append(el('line', { class: 'tick', x1: px, x2: px, y1: top + size, y2: top + size + 4 }));
      svg.append(el('text', { class: 'tick-label', x: px, y: top + size + 15, 'text-anchor': 'middle' }, fmt(x)));
      svg.append(el('line', { class: 'tick', x1: left - 4, x2: left, y1: py, y2: py }));
      svg.append(el('text', { class: 'tick-label', x: left - 6, y: py + 4, 'text-anchor': 'end' }, fmt(y)));
    }
    svg.append(el('text', { class: 'axis-label', x: left + size / 2, y: height - 6, 'text-anchor': 'middle' }, 'x'));
    svg.append(el('text', { class: 'axis-label', x: 10, y: top + size / 2, 'text-anchor': 'middle' }, 'y'));
    this.overlay = el('g', { 'clip-path': 'url(#toy2d-clip)', class: 'toy2d-paths' });
    svg.append(this.overlay);
    // A click (or tap) on the plot starts every run there.
    svg.addEventListener('click', (event) => {
      const m = svg.getScreenCTM();
      if (!m) return;
      const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(m.inverse());
      if (p.x < left || p.x > left + size || p.y < top || p.y > top + size) return;
      this.restart(this.fromPlot([p.x, p.y]).map((v) => Number(v.toPrecision(3))));
    });
    $('toy2d-plot').replaceChildren(svg);
  }

  /** The trajectories (start, then each step's new w) and the last step's two arrows. */
  draw() {
    if (!this.overlay || !this.start) return;
    this.drawn = {};
    const children = [];
    const [sx, sy] = this.toPlot(this.start);
    for (const run of RUNS) {
      const r = this.runs.get(run.id);
      if (!r || !$(`toy2d-show-${run.id}`).checked) continue;
      const path = [this.start, ...r.points.map((p) => p.next)];
      const last = r.points.at(-1);
      const drawn = { path, ascent: null, descent: null };
      const line = path.map((p) => this.toPlot(p).map((v) => v.toFixed(2)).join(',')).join(' ');
      children.push(el('polyline', { class: `toy2d-path toy2d-${run.id}`, points: line, stroke: run.colour }));
      if (last?.perturbed) {
        const tip = [last.perturbed[0] - last.lr * last.update[0], last.perturbed[1] - last.lr * last.update[1]];
        drawn.ascent = [last.w, last.perturbed];
        drawn.descent = [last.perturbed, tip];
        children.push(this.arrow(run, 'ascent', last.w, last.perturbed));
        children.push(this.arrow(run, 'descent', last.perturbed, tip));
      } else if (last) {
        drawn.descent = [last.w, last.next];
        children.push(this.arrow(run, 'descent', last.w, last.next));
      }
      const [cx, cy] = this.toPlot(path.at(-1));
      children.push(el('circle', { class: `toy2d-point toy2d-${run.id}`, cx, cy, r: 3.2, fill: run.colour }));
      this.drawn[run.id] = drawn;
    }
    children.push(el('circle', { class: 'toy2d-start', cx: sx, cy: sy, r: 4 }));
    this.overlay.replaceChildren(...children);
  }

  arrow(run, kind, from, to) {
    const [x1, y1] = this.toPlot(from);
    const [x2, y2] = this.toPlot(to);
    return el('line', {
      class: `toy2d-arrow toy2d-${kind} toy2d-${run.id}`, x1, y1, x2, y2, stroke: run.colour, 'marker-end': `url(#toy2d-head-${run.id})`,
    });
  }

  /** For window.samlab.toy2d: what the panel shows, with the points as the runs returned them. */
  snapshot() {
    const runs = {};
    for (const run of RUNS) {
      const r = this.runs.get(run.id);
      if (r) runs[run.id] = { sam: run.sam, rho: r.surface2d.rho, lr: r.surface2d.learningRate, points: r.points.map((p) => ({ ...p })) };
    }
    return {
      loaded: Boolean(this.engine),
      surface: this.info && { ...this.info, ...(this.info.name === 'quadratic' && { condition: this.choice().condition }) },
      start: this.start && [...this.start],
      runs,
      drawn: structuredClone(this.drawn ?? {}),
      arrows: this.root.querySelectorAll('.toy2d-arrow').length,
      contours: this.contours,
      busy: this.busy,
      playing: this.playing,
      error: this.error,
    };
  }
}
