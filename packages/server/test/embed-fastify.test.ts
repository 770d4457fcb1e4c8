import { startFastifyApp } from '../../../examples/embed-fastify.js';
import { embeddingSuite } from './embed-suite.js';

// Done-means 2 (issue 17): Aqueduct in a Fastify app (examples/embed-fastify.ts).
embeddingSuite('Fastify', startFastifyApp);
