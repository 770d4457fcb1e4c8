// `aqueduct --help`, `aqueduct serve --help`, `aqueduct token --help` print the usage and exit 0
// (serve --help used to fail with "Unknown option"); an unknown command exits 2 (issue 17, Done-means 5).
// The same commands run from the packed, installed package in pack-install.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '@aqueduct/testkit';

function aqueduct(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--conditions=aqueduct-source', '--import', 'tsx', join(REPO_ROOT, 'packages/server/src/cli.ts'), ...args], {
    cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('aqueduct CLI help (Done-means 5)', () => {
  for (const args of [['--help'], ['serve', '--port', '9', '--help'], ['token', '-h']]) {
    test(`aqueduct ${args.join(' ') || '(no arguments)'} prints the usage and exits 0`, () => {
      const r = aqueduct(...args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage:\n  aqueduct serve .*\n[\s\S]*aqueduct token --sub USER/);
      assert.match(r.stdout, /shutdown\.readyzGraceMs/);
      assert.doesNotMatch(r.stderr, /Unknown option/);
    });
  }

  test('an unknown command exits 2 and names it; an unknown option still fails clearly', () => {
    const r = aqueduct('frobnicate');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    const bad = aqueduct('serve', '--bogus');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /aqueduct: .*bogus/);
  });
});
