/**
 * Aggregates a V8 .cpuprofile (from `node --cpu-prof`) by function and by package: self time
 * (where the CPU was) and, for packages, inclusive time (time spent in a package or anything it
 * called). Used by `npm run bench -- --profile`; also runs on its own:
 *
 *   npx ts-node --transpile-only bench/cpuprofile-summary.ts <file.cpuprofile> [--requests N] [--top N]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
  /** Microseconds per request, when the request count is known. */
  usPerRequest?: number;
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  idleMs: number;
  requests?: number;
  busyUsPerRequest?: number;
  selfByFunction: Share[];
  selfByPackage: Share[];
  inclusiveByPackage: Share[];
}

/** Who a frame belongs to: a package under node_modules, Node itself, the app (by folder), or the VM. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program: VM / native)';
    if (functionName === '(root)') return '(root)';
    return '(native)';
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:')) return 'node core';
  const app = /\/dist\/src\/(.+)$/.exec(url) ?? /\/src\/(.+)$/.exec(url);
  if (app) {
    const folders = app[1].split('/').slice(0, -1);
    return `app: src/${folders.slice(0, 2).join('/') || '.'}`;
  }
  return url.replace(/^file:\/\//, '');
}

function functionLabel(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const modules = frame.url.lastIndexOf('/node_modules/');
  const where =
    modules >= 0
      ? frame.url.slice(modules + '/node_modules/'.length)
      : frame.url.replace(/^file:\/\/.*?\/dist\//, 'dist/').replace(/^file:\/\//, '');
  return `${name} ${where}:${frame.lineNumber + 1}`;
}

/**
 * Summarises the samples taken between `fromUs` and `toUs` (V8's monotonic clock, the one
 * process.hrtime uses, in microseconds), or all samples when no window is given.
 */
export function summarize(
  profile: CpuProfile,
  options: { fromUs?: number; toUs?: number; requests?: number; top?: number } = {},
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  let t = profile.startTime;
  let windowStart = Infinity;
  let windowEnd = -Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    // a sample stands for the time until the next one
    const dt = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    if (options.fromUs !== undefined && t < options.fromUs) continue;
    if (options.toUs !== undefined && t > options.toUs) continue;
    windowStart = Math.min(windowStart, t);
    windowEnd = Math.max(windowEnd, t + dt);
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgIncl = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const pkg = packageOf(frame);
    if (pkg === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    fnSelf.set(functionLabel(frame), (fnSelf.get(functionLabel(frame)) ?? 0) + us);
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const p = packageOf(byId.get(at)!.callFrame);
      // every stack starts in Node and native frames: counting them inclusively says nothing
      if (p === '(root)' || p === 'node core' || p.startsWith('(') || seen.has(p)) continue;
      seen.add(p);
      pkgIncl.set(p, (pkgIncl.get(p) ?? 0) + us);
    }
  }
  const top = options.top ?? 25;
  const shares = (map: Map<string, number>): Share[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: us / 1000,
        pct: busyUs ? (100 * us) / busyUs : 0,
        ...(options.requests ? { usPerRequest: us / options.requests } : {}),
      }));
  return {
    windowMs: Number.isFinite(windowEnd - windowStart) ? (windowEnd - windowStart) / 1000 : 0,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    ...(options.requests ? { requests: options.requests, busyUsPerRequest: busyUs / options.requests } : {}),
    selfByFunction: shares(fnSelf),
    selfByPackage: shares(pkgSelf),
    inclusiveByPackage: shares(pkgIncl),
  };
}

export function formatSummary(title: string, summary: ProfileSummary, top = 20): string {
  const lines: string[] = [];
  const perRequest = summary.busyUsPerRequest ? `, ${summary.busyUsPerRequest.toFixed(0)} µs busy per request` : '';
  lines.push(
    `${title}: ${summary.windowMs.toFixed(0)} ms profiled, busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms${
      summary.requests ? `, ${summary.requests} requests` : ''
    }${perRequest}`,
  );
  const table = (heading: string, rows: Share[]) => {
    lines.push(`  ${heading}`);
    for (const row of rows.slice(0, top)) {
      const us = row.usPerRequest !== undefined ? `${row.usPerRequest.toFixed(1).padStart(8)} µs/req` : '';
      lines.push(`    ${row.pct.toFixed(1).padStart(5)} %  ${row.ms.toFixed(0).padStart(7)} ms ${us}  ${row.name}`);
    }
  };
  table('self time by package', summary.selfByPackage);
  table(
    'inclusive time by package (the package and everything it called; Node core and native frames left out)',
    summary.inclusiveByPackage,
  );
  table('self time by function', summary.selfByFunction);
  return lines.join('\n');
}

if (require.main === module) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: cpuprofile-summary <file.cpuprofile> [--requests N] [--top N]\n');
    process.exit(2);
  }
  const flag = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : undefined;
  };
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const top = flag('--top') ?? 20;
  process.stdout.write(`${formatSummary(file, summarize(profile, { requests: flag('--requests'), top }), top)}\n`);
}
