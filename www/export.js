// Export: the run's metrics as CSV and JSON, and the charts as one PNG.
//
// The page records every point it receives (main.js): one row per train metrics message (a chunk
// of steps), per evaluation of the test split, and per sharpness measurement (tracked or "Measure
// now"). The rows and file names are pure functions (they run in Node too); chartsPng draws the
// page's uPlot canvases, their titles and legends into one canvas.

/** The CSV's columns (the JSON's row keys), in order. Empty (CSV) / null (JSON): not applicable. */
export const COLUMNS = Object.freeze([
  'kind', // train (a chunk of steps: means over it), test (an evaluation), curvature (λ_max, tr(H))
  'step', // the training step at the end of the chunk / of the weights evaluated or measured
  'epoch',
  'loss', 'accuracy', // train: means over the chunk; curvature: on the measured test rows
  'test_loss', 'test_accuracy', // the whole test split
  'swa_test_loss', 'swa_test_accuracy', // the SWA average (only with SWA, once averaging started)
  'sharpness', 'grad_norm', 'cos_g0_g1', // the SAM read-outs: L(w+ε) − L(w), ‖g0‖, cos(g0, g1)
  'lambda_max', 'trace_h', 'trace_h_std_error', 'worst_case_sharpness', // sharpness measurements
  'lr', 'rho', // the learning rate the trainer reported; ρ as set (none without SAM)
  'samples_per_second', 'ms_per_step',
]);

const finite = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function row(values) {
  const r = {};
  for (const key of COLUMNS) r[key] = key === 'kind' ? values.kind : finite(values[key]);
  return r;
}

/** A `metrics` message (see docs/web.md) as a row; `rho`: the ρ set when it arrived (or null). */
export function trainRow(m, rho) {
  return row({
    kind: 'train', step: m.step, epoch: m.epoch, loss: m.loss, accuracy: m.accuracy,
    sharpness: m.sharpness, grad_norm: m.gradNorm, cos_g0_g1: m.cosG0G1, lr: m.lr, rho,
    samples_per_second: m.samplesPerSecond, ms_per_step: m.msPerStep,
  });
}

/** An `eval` message as a row; `lr`, `rho`: what the run had then. */
export function testRow(e, lr, rho) {
  return row({
    kind: 'test', step: e.step, epoch: e.epoch, test_loss: e.loss, test_accuracy: e.accuracy,
    swa_test_loss: e.swa?.loss, swa_test_accuracy: e.swa?.accuracy, lr, rho,
  });
}

/** A `sharpness` message (tracked or "Measure now") as a row. */
export function curvatureRow(msg, epoch, lr, rho) {
  return row({
    kind: 'curvature', step: msg.step, epoch, loss: msg.loss, accuracy: msg.accuracy,
    lambda_max: msg.eigenvalues?.[0]?.value, trace_h: msg.trace?.value, trace_h_std_error: msg.trace?.stdError,
    worst_case_sharpness: msg.worstCase, lr, rho,
  });
}

/** Rows → CSV text (RFC 4180: a header line, CRLF line ends; numbers as JavaScript prints them). */
export function toCsv(rows) {
  const cell = (v) => (v === null || v === undefined ? '' : String(v));
  const lines = [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((key) => cell(r[key])).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Rows and what produced them → the JSON export (an object; JSON.stringify it):
 * {samlab: 'metrics', version, exported, link, settings, config, run, columns, rows}.
 */
export function toJsonExport({ rows, settings, config, link, run }) {
  return {
    samlab: 'metrics',
    version: 1,
    exported: new Date().toISOString(),
    link,
    settings,
    config,
    run,
    columns: COLUMNS.slice(),
    rows,
  };
}

/** Characters safe in a file name on every system. */
const safe = (text) => String(text ?? '').trim().replace(/[^A-Za-z0-9.+-]+/g, '_').slice(0, 40);

/**
 * The stem of an export's file name, from the run's settings (in use) and step:
 * "samlab-mnist-mlp-sam-rho0.05-step600" (no ρ without SAM).
 */
export function fileStem(s, step) {
  const rho = s.sam !== 'none' && String(s.rho ?? '').trim() !== '' ? `-rho${safe(s.rho)}` : '';
  return `samlab-${safe(s.dataset)}-${safe(s.model)}-${safe(s.sam)}${rho}-step${Number.isInteger(step) ? step : 0}`;
}

// ---------------------------------------------------------------------------------------------
// The charts as a PNG

const shown = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';

/**
 * Draw the given chart figures (elements holding a uPlot chart: caption, note, canvas, legend)
 * as they sit on the page, under a title line, into one canvas at the screen's pixel ratio.
 * Figures that are hidden or hold no canvas are left out; a figure further down the page than
 * the ones above it (the tracked chart under the sharpness panel's controls) moves up to them.
 * Resolves to a PNG Blob, or null when there is nothing to draw.
 */
export async function chartsPng(figures, title = '') {
  const GAP = 10;
  const list = figures.filter((f) => shown(f) && f.querySelector('canvas'))
    .map((el) => ({ el, rect: el.getBoundingClientRect() }))
    .sort((a, b) => a.rect.top - b.rect.top);
  if (list.length === 0) return null;
  // Close the vertical gaps between rows of figures to GAP px (a shift per figure).
  let shift = 0;
  let bottom = -Infinity;
  for (const f of list) {
    if (bottom > -Infinity && f.rect.top > bottom + GAP) shift += f.rect.top - (bottom + GAP);
    f.shift = shift;
    bottom = Math.max(bottom, f.rect.bottom);
  }
  const left = Math.min(...list.map((f) => f.rect.left));
  const top = list[0].rect.top;
  const right = Math.max(...list.map((f) => f.rect.right));
  const end = Math.max(...list.map((f) => f.rect.bottom - f.shift));
  const pad = 12;
  const titleHeight = title ? 26 : 0;
  const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const width = Math.ceil(right - left + 2 * pad);
  const height = Math.ceil(end - top + 2 * pad + titleHeight);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const bodyStyle = getComputedStyle(document.body);
  if (title) {
    ctx.fillStyle = bodyStyle.color || '#1f2328';
    ctx.font = `600 15px ${bodyStyle.fontFamily}`;
    ctx.textBaseline = 'middle';
    ctx.fillText(title, pad, pad + titleHeight / 2 - 4, width - 2 * pad);
  }
  const transparent = (colour) => !colour || colour === 'transparent' || /^rgba\(.*,\s*0\)$/.test(colour);
  for (const { el: figure, rect: r, shift: dy } of list) {
    // Page coordinates → canvas coordinates.
    const x = (px) => px - left + pad;
    const y = (py) => py - dy - top + pad + titleHeight;
    const text = (el) => {
      if (!shown(el) || !el.textContent.trim()) return;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      ctx.fillStyle = style.color;
      ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      ctx.textBaseline = 'middle';
      // uPlot's live legend puts a ":" after each label with CSS.
      const after = getComputedStyle(el, '::after').content;
      const suffix = /^"(.*)"$/.test(after) ? after.slice(1, -1) : '';
      ctx.fillText(el.textContent.trim() + suffix, x(box.left), y(box.top + box.height / 2), Math.max(1, right - box.left));
    };
    ctx.strokeStyle = '#d0d7de';
    ctx.lineWidth = 1;
    ctx.strokeRect(x(r.left) + 0.5, y(r.top) + 0.5, r.width - 1, r.height - 1);
    for (const el of figure.querySelectorAll('figcaption, .chart-note')) text(el);
    for (const c of figure.querySelectorAll('canvas')) {
      const box = c.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) ctx.drawImage(c, x(box.left), y(box.top), box.width, box.height);
    }
    // The legend (HTML under the canvas): each series' marker, label and value.
    for (const entry of figure.querySelectorAll('.u-legend .u-series')) {
      if (!shown(entry)) continue;
      const marker = entry.querySelector('.u-marker');
      if (shown(marker)) {
        const m = marker.getBoundingClientRect();
        const style = getComputedStyle(marker);
        if (!transparent(style.backgroundColor)) {
          ctx.fillStyle = style.backgroundColor;
          ctx.fillRect(x(m.left), y(m.top), m.width, m.height);
        }
        const border = parseFloat(style.borderTopWidth) || 0;
        if (border > 0 && !transparent(style.borderTopColor)) {
          ctx.strokeStyle = style.borderTopColor;
          ctx.lineWidth = border;
          ctx.strokeRect(x(m.left) + border / 2, y(m.top) + border / 2, m.width - border, m.height - border);
        }
      }
      for (const el of entry.querySelectorAll('.u-label, .u-value')) text(el);
    }
  }
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob), 'image/png'));
}
