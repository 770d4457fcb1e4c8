import { MemoryPresence } from '../src/presence/presence-memory.js';
import { runPresenceConformance } from './conformance/presence-conformance.js';

runPresenceConformance('memory', { shared: false, node: async () => new MemoryPresence() });
