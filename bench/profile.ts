/**
 * Summary of a V8 .cpuprofile (written by `node --cpu-prof`): self time by function and by area, and the total
 * time (self + callees) of the service's own functions, which says which step of a request costs what.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

/** Where a frame belongs: the service's own code, a dependency, node internals, or idle/GC. */
function area(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (!url) return '(native/V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const src = /\/(src\/[^?]+)/.exec(url);
  if (src) return src[1]!.replace(/\/[^/]+$/, '/');
  return url;
}

export function summarizeProfiles(dir: string, top = 15): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return `no profile in ${dir}`;
  }
  const lines: string[] = [];
  for (const f of files) {
    const profile = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile;
    const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const ms = (profile.endTime - profile.startTime) / 1000;
    const perHit = totalHits > 0 ? ms / totalHits : 0;
    const byFn = new Map<string, number>();
    const byArea = new Map<string, number>();
    const keyOf = (n: ProfileNode) => {
      const { functionName, url, lineNumber } = n.callFrame;
      const short = url.replace(/^.*\/(node_modules\/|src\/)/, '$1');
      return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
    };
    const parent = new Map<number, ProfileNode>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
    /** Total hits of src/ functions: each sample counted once per distinct function on its stack. */
    const total = new Map<string, number>();
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url } = n.callFrame;
      const key = keyOf(n);
      byFn.set(key, (byFn.get(key) ?? 0) + hits);
      const seen = new Set<string>();
      for (let a: ProfileNode | undefined = n; a; a = parent.get(a.id)) {
        const k = keyOf(a);
        if (!/\/src\//.test(a.callFrame.url) || seen.has(k)) continue;
        seen.add(k);
        total.set(k, (total.get(k) ?? 0) + hits);
      }
      const a = area(url, functionName);
      byArea.set(a, (byArea.get(a) ?? 0) + hits);
    }
    // Percentages of busy samples: the child idles while the naive baseline runs.
    const idle = byArea.get('(idle)') ?? 0;
    byArea.delete('(idle)');
    for (const k of [...byFn.keys()]) if (k.startsWith('(idle)')) byFn.delete(k);
    const busy = Math.max(1, totalHits - idle);
    const pct = (h: number) => `${((100 * h) / busy).toFixed(1)}%`;
    lines.push(
      `profile ${path.join(dir, f)}: ${(ms / 1000).toFixed(1)} s wall, ${((busy * perHit) / 1000).toFixed(1)} s busy ` +
        `(${busy} of ${totalHits} samples, ~${perHit.toFixed(2)} ms/sample); shares of busy time:`,
    );
    lines.push('  self time by area:');
    for (const [a, h] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`    ${pct(h).padStart(6)}  ${a}`);
    lines.push('  self time by function:');
    for (const [k, h] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`    ${pct(h).padStart(6)}  ${k}`);
    if (total.size > 0) {
      lines.push("  total time (self + callees) of the service's own functions (tsx-compiled: line numbers are not the source's):");
      for (const [k, h] of [...total].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`    ${pct(h).padStart(6)}  ${k}`);
    }
  }
  return lines.join('\n');
}
