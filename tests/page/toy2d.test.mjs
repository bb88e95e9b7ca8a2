// SAM in two dimensions (www/toy2d.js) in headless Chromium (WebGPU on SwiftShader): the points
// the view draws are the steps of the training's own SAM/SGD kernels, equal to an f64 CPU
// reference of the update rules (docs/sam-variants.md); the arrows are drawn; the sliders change ρ
// and lr from the next step; a click on the plot moves the start; another surface; the link can
// hide the panel. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNoErrors, openPage, startBrowser } from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

// --- The CPU reference (f64), independent of the page and of the Rust code. ---

/** ∇L of each surface (shaders/surface.wgsl's formulas). */
const GRADIENTS = {
  'sharp-flat': ([x, y]) => {
    const [sa2, sb2] = [0.04, 0.64];
    const da = [x + 0.6, y];
    const db = [x - 0.6, y];
    const pa = Math.exp(-(da[0] ** 2 + da[1] ** 2) / (2 * sa2));
    const pb = 0.5 * Math.exp(-(db[0] ** 2 + db[1] ** 2) / (2 * sb2));
    return [0, 1].map((i) => (pa * da[i] / sa2 + pb * db[i] / sb2) / (pa + pb));
  },
  quadratic: ([x, y], kappa) => [x, kappa * y],
};

/** One step of `sam` ('none' | 'sam' | 'asam', η = 0.01) without momentum: {p, g, next}. */
function referenceStep(surface, sam, rho, lr, w, kappa) {
  const grad = (v) => GRADIENTS[surface](v, kappa);
  const g0 = grad(w);
  let e = [0, 0];
  if (sam === 'sam') {
    const norm = Math.hypot(...g0);
    e = g0.map((g) => (rho * g) / (norm + 1e-12));
  } else if (sam === 'asam') {
    const t = w.map((v) => Math.abs(v) + 0.01);
    const norm = Math.hypot(t[0] * g0[0], t[1] * g0[1]);
    e = g0.map((g, i) => (rho * t[i] * t[i] * g) / (norm + 1e-16));
  }
  const p = [w[0] + e[0], w[1] + e[1]];
  const g = sam === 'none' ? g0 : grad(p);
  return { p, g, next: [w[0] - lr * g[0], w[1] - lr * g[1]] };
}

const close = (got, want, tol = 1e-5) => Math.abs(got - want) <= tol * (1 + Math.abs(want));
function assertPoint(got, want, what) {
  assert.ok(got.length === 2 && close(got[0], want[0]) && close(got[1], want[1]), `${what}: drawn ${JSON.stringify(got)}, reference ${JSON.stringify(want)}`);
}

/** Checks a run's drawn path from `from` (the index of its first step to check): every drawn point
 *  is the reference step from the drawn point before it (f32 rounding never accumulates), with
 *  `settings(t)` = {rho, lr} of step t; the first 12 steps also follow an f64 rollout to 1e-4
 *  (longer rollouts part ways with f32 wherever the path is sensitive to its start). */
function checkPath(view, id, surface, settings, kappa) {
  const { path } = view.drawn[id];
  const sam = view.runs[id].sam;
  let rolled = path[0];
  for (let t = 0; t + 1 < path.length; t++) {
    const { rho, lr } = settings(t);
    assertPoint(path[t + 1], referenceStep(surface, sam, rho, lr, path[t], kappa).next, `${id} step ${t}`);
    if (t >= 12) continue;
    rolled = referenceStep(surface, sam, rho, lr, rolled, kappa).next;
    assert.ok(close(path[t + 1][0], rolled[0], 1e-4) && close(path[t + 1][1], rolled[1], 1e-4), `${id} step ${t} vs the rollout ${rolled}`);
  }
}

const view = (page) => page.evaluate(() => window.samlab.toy2d);

/** Waits for `predicate(window.samlab.toy2d, arg)` (sent as source: functions do not cross into
 *  the page); a timeout says what the view was showing. */
async function waitForView(page, predicate, arg, what, timeout = 90_000) {
  try {
    await page.waitForFunction(([source, arg]) => {
      const v = window.samlab.toy2d;
      return Boolean(v) && (0, eval)(source)(v, arg);
    }, [predicate.toString(), arg], { timeout, polling: 100 });
  } catch (err) {
    const v = await view(page).catch(() => null);
    const brief = v && { ...v, runs: Object.fromEntries(Object.entries(v.runs).map(([k, r]) => [k, { ...r, points: r.points.length }])), drawn: undefined };
    throw new Error(`${what}: ${err.message.split('\n')[0]}; the view: ${JSON.stringify(brief)}; status: ${await page.locator('#toy2d-status').innerText()}`);
  }
}

async function openView(hash = '') {
  const opened = await openPage(env, { hash });
  // The panel loads when it comes into view: scroll there once it exists (the charts above it
  // grow while the page starts, so an earlier scroll can end up above it).
  await opened.page.waitForFunction(() => window.samlab?.toy2d, null, { timeout: 60_000 });
  await opened.page.locator('#toy2d').scrollIntoViewIfNeeded();
  await waitForView(opened.page, (v) => v.error || (v.runs.sam && !v.busy && v.contours > 0), null, 'the view loads');
  assert.equal((await view(opened.page)).error, '', 'the view loads without an error');
  return opened;
}

/** Clicks Step and waits until every shown run has `steps` points. */
async function step(page, steps) {
  await page.click('#toy2d-step');
  await waitForView(page, (v, steps) => !v.busy && Object.values(v.drawn).every((d) => d.path.length === steps + 1), steps, `step ${steps}`);
}

test('the drawn SGD, SAM and ASAM paths are the training kernels\' steps, equal to the CPU reference; arrows; sliders set ρ and lr; a click moves the start', async () => {
  const { page, context, errors } = await openView();
  try {
    let v = await view(page);
    assert.equal(v.surface.name, 'sharp-flat', 'the first surface');
    assert.deepEqual(v.start, [-1.2, 1.2]);
    assert.equal(await page.locator('#toy2d-lr-value').innerText(), '0.04');
    assert.equal(await page.locator('#toy2d-rho-value').innerText(), '0.2');
    assert.equal(await page.locator('#toy2d-rho-asam-value').innerText(), '0.8');
    assert.deepEqual([v.runs.sgd.lr, v.runs.sam.rho, v.runs.asam.rho], [0.04, 0.2, 0.8], 'the runs use what the sliders say');
    assert.ok(v.contours >= 5, `contour lines drawn (${v.contours})`);

    for (let n = 1; n <= 6; n++) await step(page, n);
    v = await view(page);
    const first = { rho: { sgd: 0, sam: 0.2, asam: 0.8 }, lr: 0.04 };
    for (const id of ['sgd', 'sam', 'asam']) {
      assert.deepEqual(v.drawn[id].path[0], [-1.2, 1.2], `${id} starts at the start`);
      checkPath(v, id, 'sharp-flat', () => ({ rho: first.rho[id], lr: first.lr }));
      // The drawn path is what the GPU returned: each point's w is the previous point's next.
      assert.deepEqual(v.drawn[id].path.slice(1), v.runs[id].points.map((p) => p.next));
    }
    // The last step's arrows: SAM's ascent from w to w + ε, then −lr·∇L(w + ε) from w + ε.
    const last = v.runs.sam.points.at(-1);
    const ref = referenceStep('sharp-flat', 'sam', 0.2, 0.04, last.w);
    assertPoint(v.drawn.sam.ascent[0], last.w, 'the ascent arrow starts at w');
    assertPoint(v.drawn.sam.ascent[1], ref.p, 'the ascent arrow ends at w + ε');
    assertPoint(v.drawn.sam.descent[1], [ref.p[0] - 0.04 * ref.g[0], ref.p[1] - 0.04 * ref.g[1]], 'the descent arrow ends at w + ε − lr·∇L(w + ε)');
    assert.ok(Math.abs(Math.hypot(ref.p[0] - last.w[0], ref.p[1] - last.w[1]) - 0.2) < 1e-5, '‖ε‖ = ρ');
    assert.equal(v.arrows, 5, 'two arrows for SAM and ASAM, the step for SGD');
    assert.equal(await page.locator('#toy2d .toy2d-ascent').count(), 2);
    assert.equal(await page.locator('#toy2d .toy2d-arrow[marker-end]').count(), 5, 'every arrow has its head');

    // Sliders by keyboard: ρ (SAM) 0.2 → 0.25, lr 0.04 → 0.03 (one notch down the lr scale).
    await page.focus('#toy2d-rho');
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await page.focus('#toy2d-lr');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.locator('#toy2d-rho-value').innerText(), '0.25');
    assert.equal(await page.locator('#toy2d-lr-value').innerText(), '0.03');
    assert.equal(await page.getAttribute('#toy2d-lr', 'aria-valuetext'), '0.03');
    v = await view(page);
    assert.deepEqual([v.runs.sam.rho, v.runs.sam.lr, v.runs.asam.rho, v.runs.sgd.lr], [0.25, 0.03, 0.8, 0.03]);
    await step(page, 7);
    v = await view(page);
    for (const id of ['sgd', 'sam', 'asam']) {
      checkPath(v, id, 'sharp-flat', (t) => (t < 6 ? { rho: first.rho[id], lr: 0.04 } : { rho: id === 'sam' ? 0.25 : first.rho[id], lr: 0.03 }));
    }
    assert.ok(Math.abs(Math.hypot(v.runs.sam.points[6].perturbed[0] - v.runs.sam.points[6].w[0], v.runs.sam.points[6].perturbed[1] - v.runs.sam.points[6].w[1]) - 0.25) < 1e-5, 'the new ρ');

    // A click on the plot: every run starts again there, with empty paths.
    await page.locator('#toy2d-plot svg').scrollIntoViewIfNeeded();
    const box = await page.locator('#toy2d-plot svg').boundingBox();
    // viewBox 360 × 350, the square from (42, 8) of side 300 over [−2, 2]²: the middle of its
    // upper-right quarter is (1, 1).
    await page.mouse.click(box.x + ((42 + 225) / 360) * box.width, box.y + ((8 + 75) / 350) * box.height);
    v = await view(page);
    assert.ok(Math.abs(v.start[0] - 1) < 0.05 && Math.abs(v.start[1] - 1) < 0.05, `the start moved to ${v.start}`);
    assert.deepEqual(v.drawn.sam.path, [v.start], 'paths cleared');
    await step(page, 1);
    v = await view(page);
    checkPath(v, 'sam', 'sharp-flat', () => ({ rho: 0.25, lr: 0.03 }));

    if (process.env.TOY2D_SCREENSHOT) await page.locator('#toy2d').screenshot({ path: process.env.TOY2D_SCREENSHOT });
    // Play runs until paused.
    await page.selectOption('#toy2d-speed', '5');
    await page.click('#toy2d-play');
    await waitForView(page, (v) => v.drawn.sam.path.length > 30, null, 'playing');
    await page.click('#toy2d-play');
    await waitForView(page, (v) => !v.playing && !v.busy, null, 'pausing');
    assert.equal(await page.locator('#toy2d-play').innerText(), 'Play');
    v = await view(page);
    checkPath(v, 'asam', 'sharp-flat', () => ({ rho: 0.8, lr: 0.03 }));
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('the quadratic bowl with κ = 10: its slider, suggested lr 1/κ, and SGD and SAM paths equal to the reference; the link hides the panel', async () => {
  const { page, context, errors } = await openView();
  try {
    assert.equal(await page.isHidden('#toy2d-kappa-field'), true, 'κ only for the quadratic');
    await page.selectOption('#toy2d-surface', 'quadratic');
    await waitForView(page, (v) => v.surface.name === 'quadratic' && !v.busy && v.runs.sam, null, 'the quadratic is built');
    assert.equal(await page.isVisible('#toy2d-kappa-field'), true);
    assert.equal(await page.locator('#toy2d-kappa-value').innerText(), '10');
    assert.equal(await page.locator('#toy2d-lr-value').innerText(), '0.1');
    assert.equal(await page.locator('#toy2d-rho-value').innerText(), '0.1');
    await page.uncheck('#toy2d-show-asam');
    for (let n = 1; n <= 4; n++) await step(page, n);
    const v = await view(page);
    assert.equal(v.drawn.asam, undefined, 'ASAM hidden');
    assert.equal(v.runs.asam.points.length, 0, 'and not stepped');
    for (const id of ['sgd', 'sam']) checkPath(v, id, 'quadratic', () => ({ rho: id === 'sam' ? 0.1 : 0, lr: 0.1 }), 10);
    assert.match(await page.locator('#toy2d-note').innerText(), /condition number/);

    // Bad configs to the wasm API are one-line errors naming the key (the module the panel loaded).
    const refusals = await page.evaluate(async () => {
      const { Surface2d } = await import('./pkg/samlab.js');
      const cases = [
        { colour: 'red' }, { surface: 'himmelblau' }, { start: [1, 2, 3] }, { sam: 'gsam' }, { lr: '0.1' },
        { surface: 'saddle', condition: 5 }, { rho: -1 }, { momentum: 1 },
      ];
      const out = [];
      for (const config of cases) {
        try {
          (await Surface2d.create(config)).free();
          out.push('accepted');
        } catch (err) {
          out.push(String(err.message));
        }
      }
      return out;
    });
    const keys = ['colour', 'himmelblau', 'start', 'gsam', 'lr', 'condition', 'rho', 'momentum'];
    refusals.forEach((message, i) => {
      assert.ok(message.includes(keys[i]) && !message.includes('\n'), `case ${i}: a one-line message naming ${keys[i]}: ${message}`);
    });
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
  const hidden = await openPage(env, { hash: 'toy2d_hide=true' });
  try {
    assert.equal(await hidden.page.isHidden('#toy2d'), true, 'toy2d_hide=true hides the panel');
    assert.deepEqual(await hidden.page.evaluate(() => window.samlab.view.hidden), ['toy2d']);
    assertNoErrors(hidden.errors);
  } finally {
    await hidden.context.close();
  }
});
