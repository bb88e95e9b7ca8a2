// Helpers shared by the benchmark pages (bench/all.mjs opens them).
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The WebGPU adapter in words ("google swiftshader ..."), or '' without WebGPU. */
export async function webgpuAdapter() {
  const adapter = await navigator.gpu?.requestAdapter();
  const info = adapter?.info ?? {};
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
}

/**
 * samlab's WGSL preprocessor (src/gpu/pipelines.rs `preprocess`): keeps or drops the lines
 * between `//#if NAME` (`!NAME` negates, `A || B`), `//#else` and `//#endif`, nestable.
 */
export function preprocess(source, defines) {
  const out = [];
  const stack = []; // [active, some branch taken]
  for (const line of source.split('\n')) {
    const t = line.trimStart();
    if (t.startsWith('//#if ')) {
      const on = t.slice(6).split('||').some((n) => {
        n = n.trim();
        return n.startsWith('!') ? !defines.includes(n.slice(1)) : defines.includes(n);
      });
      stack.push([on, on]);
    } else if (t.startsWith('//#else')) {
      const top = stack[stack.length - 1];
      if (top) { top[0] = !top[1]; top[1] = true; }
    } else if (t.startsWith('//#endif')) {
      stack.pop();
    } else if (stack.every(([on]) => on)) {
      out.push(line);
    }
  }
  return out.join('\n') + '\n';
}
