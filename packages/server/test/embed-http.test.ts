import { startHttpApp } from '../../../examples/embed-http.js';
import { embeddingSuite } from './embed-suite.js';

// Done-means 2 (issue 17): Aqueduct in a plain http.Server under /rt (examples/embed-http.ts).
embeddingSuite('plain http.Server', startHttpApp);
