import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSuite } from '../src/run.js';
import { KEPT_MARKER, fanoutFigures, writeReport } from '../src/report.js';

// A tiny fanout (20 subscribers, 50 publications/s, about a second) against the floor and
// Aqueduct: proves the harness starts servers, drives them from a separate load generator,
// checks delivery, samples the server and renders the report. No timing assertions.
test('bench harness: tiny fanout against bare ws and Aqueduct, then the report', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const results = await runSuite({ quick: true, only: ['fanout'], servers: ['ws', 'aqueduct'], outFile: join(dir, 'r.json'), report: false, build: false });
    assert.equal(results.phases.length, 2);
    for (const phase of results.phases) {
      assert.equal(phase.error, undefined, `${phase.server}: ${phase.error}`);
      assert.equal(phase.skipped, undefined);
      const f = fanoutFigures(phase);
      assert.equal(f.complete, true, `${phase.server} delivered ${String(f.received)} of ${String(f.expected)}`);
      assert.equal(f.inOrder, true);
      assert.ok(typeof f.cpuUsPerDelivery === 'number' && f.cpuUsPerDelivery > 0, 'server CPU sampled');
      assert.ok(typeof f.rssMB === 'number' && f.rssMB > 0, 'server RSS sampled');
    }
    writeReport(results, join(dir, 'BENCHMARKS.md'), join(dir, 'chart.svg'));
    const md = readFileSync(join(dir, 'BENCHMARKS.md'), 'utf8');
    assert.match(md, /\| Aqueduct \|/);
    assert.match(md, /\| bare ws \|/);
    assert.match(md, /Machine and versions/);
    assert.match(readFileSync(join(dir, 'chart.svg'), 'utf8'), /^<svg /);
    // Sections of other bench modes (cross-node, compression) below the marker survive a rewrite.
    writeFileSync(join(dir, 'BENCHMARKS.md'), `${md}\n${KEPT_MARKER}\n\n## Cross-node brokers\n\n| one Redis | 1 |\n`);
    writeReport(results, join(dir, 'BENCHMARKS.md'), join(dir, 'chart.svg'));
    const again = readFileSync(join(dir, 'BENCHMARKS.md'), 'utf8');
    assert.match(again, /Machine and versions/);
    assert.ok(again.endsWith(`${KEPT_MARKER}\n\n## Cross-node brokers\n\n| one Redis | 1 |\n`), 'kept sections at the end, once');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
