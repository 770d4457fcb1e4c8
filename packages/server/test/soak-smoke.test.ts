import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSoak } from './soak/soak.js';

// A short run of `npm run soak` (README §Reliability): 2,000 fuzzed inputs over every endpoint,
// then 10 s of churn with network cuts. The full run is `npm run soak` (not part of npm test).
test('fuzz and soak smoke: no crash, no 5xx, nothing acknowledged lost, documents intact', { timeout: 240_000 }, async () => {
  const r = await runSoak({ inputs: 2000, seconds: 10, seed: 16, log: () => {} });
  assert.equal(r.crashes, 0);
  assert.equal(r.serverErrors, 0, r.serverErrorExamples.join('\n'));
  assert.ok(r.inputsTried >= 2000, `inputs tried: ${r.inputsTried}`);
  for (const endpoint of ['/ws json', '/ws msgpack', '/yjs', 'SSE/poll query', 'POST bodies']) assert.ok((r.byEndpoint[endpoint] ?? 0) > 0, endpoint);
  assert.ok(r.postRoutes.includes('/api/publish'));
  assert.ok(r.churn.acked > 0 && r.churn.cuts > 0 && r.churn.churnConnections > 0, JSON.stringify(r.churn));
  assert.equal(r.churn.lost, 0);
  assert.equal(r.churn.docsCorrupted, 0);
  assert.ok(r.churn.docsChecked >= 2);
});
