/**
 * `npm run soak`: the fuzz and soak suite with its full defaults (100,000 inputs, 5 minutes of
 * churn). `SOAK_INPUTS`, `SOAK_SECONDS` and `SOAK_SEED` (or `--inputs=`, `--seconds=`, `--seed=`)
 * change them. Exits 1 if any count that must be 0 is not.
 */
import { runSoak } from './soak.js';

function opt(name: string, env: string, fallback: number): number {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = flag ? flag.slice(name.length + 3) : process.env[env];
  return raw === undefined || raw === '' ? fallback : Number(raw);
}

const inputs = opt('inputs', 'SOAK_INPUTS', 100_000);
const seconds = opt('seconds', 'SOAK_SECONDS', 300);
const seed = opt('seed', 'SOAK_SEED', Date.now() % 1_000_000);
console.log(`soak: ${inputs} fuzzed inputs, ${seconds} s churn, seed ${seed}`);
const r = await runSoak({ inputs, seconds, seed, log: (l) => console.log(l) });
const c = r.churn;
console.log(`
inputs tried                 ${r.inputsTried}   ${Object.entries(r.byEndpoint).map(([k, v]) => `${k}: ${v}`).join(', ')}
crashes                      ${r.crashes}
HTTP 5xx (not 503)           ${r.serverErrors}${r.serverErrorExamples.length ? '  e.g. ' + r.serverErrorExamples.join(' | ') : ''}
close codes (fuzz)           ${JSON.stringify(r.closeCodes)}
HTTP statuses (fuzz)         ${JSON.stringify(r.httpStatuses)}
POST routes fuzzed           ${r.postRoutes.join(' ')}
churn: acknowledged          ${c.acked} publications, ${c.delivered} deliveries, ${c.churnConnections} short-lived connections, ${c.cuts} network cuts, ${c.slowDisconnects} slow-reader disconnects (4001)
acknowledged messages lost   ${c.lost}   (resets told: ${c.resets})
documents corrupted          ${c.docsCorrupted} of ${c.docsChecked} copies compared (${c.docEdits} edits)
server RSS (MB)              start ${r.rssStartMb}, after fuzz ${r.rssAfterFuzzMb}, end ${r.rssEndMb}, max ${r.rssMaxMb}
server heap floor (MB)       first minute of churn ${r.heapFloorMb.churnFirstMinute}, last minute ${r.heapFloorMb.churnLastMinute} (lowest heap in use, sampled every second)
duration                     ${r.durationSec} s`);
process.exit(r.crashes + r.serverErrors + c.lost + c.docsCorrupted === 0 ? 0 : 1);
