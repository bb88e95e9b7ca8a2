// The 2-D loss landscape L(w + α·d1 + β·d2) as a heatmap with contour lines, in SVG.
//
// d3-contour computes the filled contour bands (marching squares) of log10(loss) on the α × β grid,
// d3-geo's geoPath turns them into SVG paths (geoIdentity: the grid's plane coordinates, y
// reflected so β grows upwards), and d3-scale-chromatic colours them (viridis: dark = low loss).
// The bands, drawn lowest first, make the heatmap; their outlines are the contour lines. The page
// loads this module (and the d3 modules, mapped to vendor/ by index.html's import map) only when a
// plane is first drawn.

import { contours } from 'd3-contour';
import { geoIdentity, geoPath } from 'd3-geo';
import { interpolateViridis } from 'd3-scale-chromatic';

const SVG = 'http://www.w3.org/2000/svg';
/** Colour bands (and contour lines between them). */
const LEVELS = 16;
/** The drawing in viewBox units: the square plot, then the colour bar with its labels. */
const BOX = { width: 400, height: 336, left: 44, top: 10, size: 280, barGap: 14, barWidth: 12 };

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Loss values for display: 3 significant digits, no exponent for ordinary sizes. */
export function formatLoss(v) {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/**
 * Draws `report` ({axis, loss: rows per β, accuracy}) into `container` (replacing what it held).
 * `onHover({alpha, beta, loss, accuracy} | null)` follows the pointer over the plot. Returns
 * {svg, contours: the number of contour-line paths, levels: the thresholds in loss units}.
 */
export function renderPlane(container, report, { onHover } = {}) {
  const axis = report.axis;
  const n = axis.length;
  const span = Math.max(Math.abs(axis[0]), Math.abs(axis[n - 1]));
  // Grid → contour input: row-major with α fastest (d3-contour's x), β rows (its y). Non-finite
  // losses (a diverged point) take the largest finite value so the contours stay closed.
  const finite = report.loss.flat().filter((v) => Number.isFinite(v) && v > 0);
  const top = finite.length ? Math.max(...finite) : 1;
  const floor = finite.length ? Math.min(...finite) : 1;
  const values = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const v = report.loss[j]?.[i];
      values[j * n + i] = Math.log10(Number.isFinite(v) && v > 0 ? v : top);
    }
  }
  let lo = Math.log10(floor);
  let hi = Math.log10(top);
  if (!(hi - lo > 1e-9)) {
    lo -= 1e-3;
    hi += 1e-3;
  }
  const thresholds = Array.from({ length: LEVELS }, (_, k) => lo + ((hi - lo) * k) / LEVELS);
  const bands = contours().size([n, n]).thresholds(thresholds)(values);

  const { width, height, left, top: y0, size, barGap, barWidth } = BOX;
  // d3-contour puts grid point i at i + ½ and closes the bands along the grid's outer edge, which
  // cuts its corners: the plot shows only the square between the first and last grid points.
  const k = size / (n - 1); // viewBox units per grid step
  const projection = geoIdentity().reflectY(true).scale(k).translate([left - k / 2, y0 + size + k / 2]);
  const path = geoPath(projection);
  const colour = (t) => interpolateViridis((t - lo) / (hi - lo));

  const svg = el('svg', {
    class: 'landscape-plane',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Loss on a ${n} by ${n} grid of α and β from ${-span} to ${span}, with contour lines`,
  });
  const clip = `plane-clip-${Math.random().toString(36).slice(2, 8)}`;
  const defs = el('defs');
  const clipPath = el('clipPath', { id: clip });
  clipPath.append(el('rect', { x: left, y: y0, width: size, height: size }));
  defs.append(clipPath);
  svg.append(defs);

  const plot = el('g', { 'clip-path': `url(#${clip})` });
  plot.append(el('rect', { x: left, y: y0, width: size, height: size, fill: colour(lo) }));
  for (const band of bands) {
    plot.append(el('path', { class: 'band', d: path(band) ?? '', fill: colour(band.value) }));
  }
  // Contour lines: the outline of each band but the first (which is the whole grid).
  let lines = 0;
  for (const band of bands.slice(1)) {
    const d = path(band);
    if (!d) continue;
    plot.append(el('path', { class: 'contour', d, fill: 'none' }));
    lines += 1;
  }
  svg.append(plot);
  svg.append(el('rect', { x: left, y: y0, width: size, height: size, fill: 'none', class: 'frame' }));

  // α and β axes: ticks at −span, −span/2, 0, span/2, span.
  const at = (value) => ((value - axis[0]) / (axis[n - 1] - axis[0])) * size;
  const x = (value) => left + at(value);
  const y = (value) => y0 + size - at(value);
  const ticks = [-1, -0.5, 0, 0.5, 1].map((f) => f * span);
  const label = (v) => String(Number(v.toPrecision(3)));
  for (const t of ticks) {
    svg.append(el('line', { class: 'tick', x1: x(t), x2: x(t), y1: y0 + size, y2: y0 + size + 4 }));
    svg.append(el('text', { class: 'tick-label', x: x(t), y: y0 + size + 15, 'text-anchor': 'middle' }, label(t)));
    svg.append(el('line', { class: 'tick', x1: left - 4, x2: left, y1: y(t), y2: y(t) }));
    svg.append(el('text', { class: 'tick-label', x: left - 6, y: y(t) + 4, 'text-anchor': 'end' }, label(t)));
  }
  svg.append(el('text', { class: 'axis-label', x: left + size / 2, y: height - 4, 'text-anchor': 'middle' }, 'α (direction 1)'));
  svg.append(el('text', {
    class: 'axis-label', x: 11, y: y0 + size / 2, 'text-anchor': 'middle', transform: `rotate(-90 11 ${y0 + size / 2})`,
  }, 'β (direction 2)'));

  // The current weights (α = β = 0).
  const centre = el('g', { class: 'centre' });
  centre.append(el('circle', { cx: x(0), cy: y(0), r: 4 }));
  centre.append(el('title', {}, 'the current weights (α = β = 0)'));
  svg.append(centre);

  // Colour bar: loss (log scale) from the lowest to the highest value on the plane.
  const bx = left + size + barGap;
  const gradient = el('linearGradient', { id: `${clip}-bar`, x1: 0, y1: 1, x2: 0, y2: 0 });
  for (let s = 0; s <= 10; s++) {
    gradient.append(el('stop', { offset: s / 10, 'stop-color': interpolateViridis(s / 10) }));
  }
  defs.append(gradient);
  svg.append(el('rect', { x: bx, y: y0, width: barWidth, height: size, fill: `url(#${clip}-bar)`, class: 'frame' }));
  for (const f of [0, 0.5, 1]) {
    const v = 10 ** (lo + (hi - lo) * f);
    svg.append(el('text', { class: 'tick-label', x: bx + barWidth + 3, y: y0 + size - f * size + (f === 1 ? 9 : f === 0 ? -2 : 4) }, formatLoss(v)));
  }
  svg.append(el('text', { class: 'axis-label', x: bx + barWidth / 2, y: height - 4, 'text-anchor': 'middle' }, 'loss'));

  if (onHover) {
    svg.addEventListener('pointermove', (event) => {
      const m = svg.getScreenCTM();
      if (!m) return;
      const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(m.inverse());
      const i = Math.round((p.x - left) / k);
      const j = Math.round((y0 + size - p.y) / k);
      if (i < 0 || j < 0 || i >= n || j >= n) {
        onHover(null);
        return;
      }
      onHover({ alpha: axis[i], beta: axis[j], loss: report.loss[j][i], accuracy: report.accuracy?.[j]?.[i] ?? null });
    });
    svg.addEventListener('pointerleave', () => onHover(null));
  }

  container.replaceChildren(svg);
  return { svg, contours: lines, levels: thresholds.map((t) => 10 ** t) };
}
