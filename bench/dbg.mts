import { runFanout } from './src/load/bus-load.ts';
const port = Number(process.argv[2]);
process.send = ((m: unknown) => { setTimeout(() => process.emit('message' as never, { type: 'sync-ok', id: (m as {id:number}).id } as never), 1); return true; }) as never;
const r = await runFanout({ kind: 'fanout', server: process.argv[3] as 'ws', port, rooms: 1, subscribersPerRoom: 1000, pubsPerSec: 100, payloadBytes: 100, warmupMs: 2000, measureMs: 4000, drainMs: 3000 });
console.log(JSON.stringify(r));
process.exit(0);
