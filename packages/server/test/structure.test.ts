// The shape of the source tree (issue 12; ARCHITECTURE.md): no import cycles, no source file over
// 400 lines, and the data flow of DESIGN.md — no pipe imports a broker implementation or reaches
// the broker except through the hub (core/).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const PACKAGES = join(ROOT, 'packages');
const MAX_LINES = 400;

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative module a file imports: static, type-only, re-exports and dynamic `import()`. */
export function relativeImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:\bimport|\bexport)\s+(?:type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** The import graph of a source dir: file -> files it imports (within the dir). */
function importGraph(srcDir: string): Map<string, string[]> {
  const files = walk(srcDir);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = relativeImports(readFileSync(f, 'utf8'))
      .map((spec) => resolve(dirname(f), spec.replace(/\.js$/, '.ts')))
      .map((p) => (known.has(p) ? p : known.has(p.replace(/\.ts$/, '.tsx')) ? p.replace(/\.ts$/, '.tsx') : p));
    graph.set(f, deps.filter((d) => known.has(d)));
  }
  return graph;
}

/** The import cycles of a graph (one path per strongly connected component of 2+ files or a self-import), by DFS. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const key = [...cycle].sort().join('|');
        if (!seen.has(key)) { seen.add(key); cycles.push([...cycle, next]); }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const srcDirs = readdirSync(PACKAGES).map((p) => join(PACKAGES, p, 'src')).filter((d) => { try { return statSync(d).isDirectory(); } catch { return false; } });

describe('source structure', () => {
  test('the cycle finder finds a cycle (so the checks below can fail)', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    assert.deepEqual(findCycles(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', []]])), []);
    assert.deepEqual(relativeImports("import type { X } from './x.js';\nexport { y } from '../y.js';\nconst z = await import('./z.js');\nimport {\n  a,\n} from './a.js';").sort(), ['../y.js', './a.js', './x.js', './z.js']);
  });

  for (const dir of srcDirs) {
    const name = relative(ROOT, dir);
    test(`no import cycles in ${name}`, () => {
      const cycles = findCycles(importGraph(dir)).map((c) => c.map((f) => relative(dir, f)).join(' -> '));
      assert.deepEqual(cycles, [], `import cycles in ${name}`);
    });
  }

  test(`no source file over ${MAX_LINES} lines in packages/*/src`, () => {
    const long = srcDirs.flatMap((d) => walk(d))
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((x) => x.lines > MAX_LINES)
      .map((x) => `${x.file}: ${x.lines}`);
    assert.deepEqual(long, []);
  });

  test('no pipe imports a broker implementation or reaches the broker except through the hub', () => {
    const server = join(PACKAGES, 'server', 'src');
    // May use broker/*: the broker itself, presence (shares the Redis/NATS links), the core (the hub
    // is the door), cluster/ (backend selection) and the composition root files at the top.
    const allowed = (rel: string) => /^(broker|presence|core|cluster)\//.test(rel) || !rel.includes('/');
    const problems: string[] = [];
    for (const f of walk(server)) {
      const rel = relative(server, f);
      const source = readFileSync(f, 'utf8');
      if (!allowed(rel)) {
        for (const spec of relativeImports(source)) {
          const target = relative(server, resolve(dirname(f), spec));
          // The broker *interface* (types, BrokerUnavailableError) is the seam; implementations are not.
          if (target.startsWith('broker/') && target !== 'broker/broker.js') problems.push(`${rel} imports ${target}`);
        }
        if (/\.broker\b/.test(source.replace(/\/\/.*$/gm, ''))) problems.push(`${rel} reaches a broker object directly`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('each server folder is one of the documented ones (ARCHITECTURE.md)', () => {
    const server = join(PACKAGES, 'server', 'src');
    const architecture = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
    const folders = new Set(walk(server).map((f) => dirname(relative(server, f))).filter((d) => d !== '.'));
    const undocumented = [...folders].filter((d) => !architecture.includes(`packages/server/src/${d}/`));
    assert.deepEqual(undocumented, [], 'every folder has its line in ARCHITECTURE.md');
  });
});
