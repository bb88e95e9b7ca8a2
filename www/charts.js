// The live charts (uPlot) and the history they draw.
//
// Train points arrive with every metrics message, test points with every evaluation. The accuracy
// and loss charts share one step axis, so a step that has only one kind of point holds null for
// the other (spanGaps joins the test points into a line).
//
// With SWA on, every evaluation also tests the running mean of the weights: the "SWA test" series
// of the accuracy and loss charts, null (a gap: nothing drawn) before averaging starts.
//
// The SAM read-outs can be null for a real reason: no L(w+ε) without SAM, with S2-SAM, or in a
// LookSAM update made only of its one-pass steps. Those nulls stay gaps in the line (never zeros,
// never bridged), and a point with a gap on both sides is drawn as a dot so it stays visible.

import uPlot from './vendor/uPlot.esm.js';

const COLORS = {
  train: '#2563eb',
  test: '#ea580c',
  swa: '#16a34a',
  sharpness: '#7c3aed',
  gradNorm: '#059669',
  cos: '#b91c1c',
};

/** Steps are whole numbers: tick spacings of 1, 2, 5, 10, 20, 50, … */
const stepAxis = () => ({ incrs: [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((p) => m * p)).sort((a, b) => a - b) });

/** uPlot points.filter: when the points are not all shown, still show those with no neighbour. */
function isolatedPoints(u, seriesIdx, show) {
  if (show) return null;
  const ys = u.data[seriesIdx];
  const [i0, i1] = u.series[0].idxs ?? [0, ys.length - 1];
  const idxs = [];
  for (let i = i0; i <= i1; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  }
  return idxs.length ? idxs : null;
}
const gapPoints = { filter: isolatedPoints };

const percent = (_u, values) => values.map((v) => (v == null ? '' : `${Math.round(v * 100)}%`));
const fixed = (digits) => (_u, v) => (v == null || !Number.isFinite(v) ? '–' : v.toFixed(digits));

function emptyTables() {
  return {
    // [step, train, test, SWA test] for accuracy and loss (same steps)
    step: [], trainAccuracy: [], testAccuracy: [], swaAccuracy: [], trainLoss: [], testLoss: [], swaLoss: [],
    // [step, sharpness, ‖g0‖, cos] for the SAM read-outs (train points only)
    samStep: [], sharpness: [], gradNorm: [], cos: [],
  };
}

/** The SWA average's test points: joined across train-only steps, nothing before its first point. */
const swaSeries = () => ({
  label: 'SWA test', stroke: COLORS.swa, width: 2, dash: [6, 3], spanGaps: true, show: false,
  points: { show: true, size: 5 }, value: fixed(4),
});

function chartOptions(kind) {
  const base = {
    width: 300,
    height: 200,
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    scales: { x: { time: false } },
  };
  const stepSeries = { label: 'step', value: (_u, v) => (v == null ? '–' : String(v)) };
  if (kind === 'accuracy') {
    return {
      ...base,
      scales: {
        ...base.scales,
        // From the nearest tenth below the lowest point up to 100%.
        y: { range: (_u, min) => [Number.isFinite(min) ? Math.max(0, Math.floor((min - 0.001) * 10) / 10) : 0, 1] },
      },
      axes: [stepAxis(), { values: percent, size: 50 }],
      series: [
        stepSeries,
        { label: 'train', stroke: COLORS.train, width: 1.5, spanGaps: true, value: fixed(4) },
        { label: 'test', stroke: COLORS.test, width: 2, spanGaps: true, points: { show: true, size: 5 }, value: fixed(4) },
        swaSeries(),
      ],
    };
  }
  if (kind === 'loss') {
    return {
      ...base,
      scales: { ...base.scales, y: { range: (_u, _min, max) => [0, Number.isFinite(max) && max > 0 ? max * 1.05 : 1] } },
      axes: [stepAxis(), { size: 45 }],
      series: [
        stepSeries,
        { label: 'train', stroke: COLORS.train, width: 1.5, spanGaps: true, value: fixed(4) },
        { label: 'test', stroke: COLORS.test, width: 2, spanGaps: true, points: { show: true, size: 5 }, value: fixed(4) },
        swaSeries(),
      ],
    };
  }
  // SAM read-outs: sharpness on the left axis, ‖g0‖ on the right, cos on a fixed [−1, 1] scale
  // (its values show in the legend).
  return {
    ...base,
    scales: { ...base.scales, sharp: { auto: true }, grad: { auto: true }, cos: { range: [-1, 1] } },
    axes: [
      stepAxis(),
      { scale: 'sharp', stroke: COLORS.sharpness, size: 50 },
      { scale: 'grad', side: 1, stroke: COLORS.gradNorm, size: 45, grid: { show: false } },
    ],
    series: [
      stepSeries,
      { label: 'L(w+ε)−L(w)', scale: 'sharp', stroke: COLORS.sharpness, width: 1.5, spanGaps: false, points: gapPoints, value: fixed(4) },
      { label: '‖g0‖', scale: 'grad', stroke: COLORS.gradNorm, width: 1.5, spanGaps: false, points: gapPoints, value: fixed(3) },
      { label: 'cos(g0,g1) [−1…1]', scale: 'cos', stroke: COLORS.cos, width: 1, dash: [4, 3], spanGaps: false, points: gapPoints, value: fixed(3) },
    ],
  };
}

export class Charts {
  /** `figures`: {accuracy, loss, sam} → the element each chart goes into. */
  constructor(figures) {
    this.figures = figures;
    this.tables = emptyTables();
    this.plots = {};
    for (const [kind, el] of Object.entries(figures)) {
      this.plots[kind] = new uPlot(chartOptions(kind), this.dataFor(kind), el);
    }
    this.frame = 0;
    this.swa = null;
    this.setSwa(false);
    this.observer = new ResizeObserver(() => this.resize());
    for (const el of Object.values(figures)) this.observer.observe(el);
    this.resize();
  }

  dataFor(kind) {
    const t = this.tables;
    if (kind === 'accuracy') return [t.step, t.trainAccuracy, t.testAccuracy, t.swaAccuracy];
    if (kind === 'loss') return [t.step, t.trainLoss, t.testLoss, t.swaLoss];
    return [t.samStep, t.sharpness, t.gradNorm, t.cos];
  }

  /** Show the SWA series (and its legend entry) only while SWA is on, or has points. */
  setSwa(on) {
    const show = Boolean(on) || this.tables.swaAccuracy.some((v) => v !== null);
    if (show === this.swa) return;
    this.swa = show;
    for (const kind of ['accuracy', 'loss']) {
      this.plots[kind].setSeries(3, { show });
      (this.figures[kind].closest('.chart') ?? this.figures[kind]).classList.toggle('swa-off', !show);
    }
  }

  /** Chart size follows the width of its container (setSize on every resize). */
  resize() {
    for (const [kind, el] of Object.entries(this.figures)) {
      const width = Math.floor(el.clientWidth);
      if (width <= 0) continue;
      // Two rows of charts should fit the window's height beside the settings when it can.
      const byWindow = (window.innerHeight - 230) / 2;
      const height = Math.round(Math.max(130, Math.min(300, width * 0.55, byWindow)));
      const plot = this.plots[kind];
      if (plot.width !== width || plot.height !== height) plot.setSize({ width, height });
    }
  }

  addTrain(m) {
    const t = this.tables;
    t.step.push(m.step);
    t.trainAccuracy.push(m.accuracy);
    t.trainLoss.push(m.loss);
    t.testAccuracy.push(null);
    t.testLoss.push(null);
    t.swaAccuracy.push(null);
    t.swaLoss.push(null);
    t.samStep.push(m.step);
    // null (no read-out in this update) stays null: a gap, not a zero.
    const orNull = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    t.sharpness.push(orNull(m.sharpness));
    t.gradNorm.push(orNull(m.gradNorm));
    t.cos.push(orNull(m.cosG0G1));
    this.redrawSoon();
  }

  /** An evaluation: `e.swa` ({loss, accuracy} of the SWA average, or null) is optional. */
  addTest(e) {
    const t = this.tables;
    const swaAccuracy = e.swa ? e.swa.accuracy : null;
    const swaLoss = e.swa ? e.swa.loss : null;
    // Steps only grow, so the point belongs at the end (or at the train point of the same step).
    let i = t.step.length;
    while (i > 0 && t.step[i - 1] > e.step) i--;
    if (i > 0 && t.step[i - 1] === e.step) {
      t.testAccuracy[i - 1] = e.accuracy;
      t.testLoss[i - 1] = e.loss;
      t.swaAccuracy[i - 1] = swaAccuracy;
      t.swaLoss[i - 1] = swaLoss;
    } else {
      t.step.splice(i, 0, e.step);
      t.trainAccuracy.splice(i, 0, null);
      t.trainLoss.splice(i, 0, null);
      t.testAccuracy.splice(i, 0, e.accuracy);
      t.testLoss.splice(i, 0, e.loss);
      t.swaAccuracy.splice(i, 0, swaAccuracy);
      t.swaLoss.splice(i, 0, swaLoss);
    }
    if (swaAccuracy !== null) this.setSwa(true);
    this.redrawSoon();
  }

  clear() {
    this.tables = emptyTables();
    this.redraw();
  }

  redrawSoon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.redraw());
  }

  redraw() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    for (const [kind, plot] of Object.entries(this.plots)) {
      plot.setData(this.dataFor(kind));
      // Without the pointer on the chart, the legend shows the latest values.
      if (!(plot.cursor.left >= 0) && plot.data[0].length > 0) plot.setLegend({ idx: plot.data[0].length - 1 });
    }
  }

  /** Copies of what the charts draw, for tests and curious readers (window.samlab.history). */
  snapshot() {
    const t = this.tables;
    const copy = (a) => a.slice();
    return {
      accuracy: { step: copy(t.step), train: copy(t.trainAccuracy), test: copy(t.testAccuracy), swa: copy(t.swaAccuracy) },
      loss: { step: copy(t.step), train: copy(t.trainLoss), test: copy(t.testLoss), swa: copy(t.swaLoss) },
      sam: { step: copy(t.samStep), sharpness: copy(t.sharpness), gradNorm: copy(t.gradNorm), cos: copy(t.cos) },
      // How many points each uPlot instance holds right now.
      swaShown: this.swa,
      drawn: Object.fromEntries(Object.entries(this.plots).map(([k, p]) => [k, p.data?.[0]?.length ?? 0])),
    };
  }
}
