import type { AqueductServer } from './server.js';

/**
 * Mounts the built-in modules on a server, in order. Each module adds its routes, upgrade handlers,
 * health checks and close hooks. One line per module.
 */
export async function installBuiltinModules(server: AqueductServer): Promise<void> {
  const demo = await import('./transports/demo.js');
  // First: in demo mode without a configured key, the admin API key the others read is generated.
  demo.ensureDemoApiKey(server);
  // Before the other /api modules: its CORS layer answers preflights and sets headers for all of /api/*.
  (await import('./transports/sse-http.js')).installSseHttp(server);
  demo.installDemo(server);
  const docs = await import('./docs/install.js');
  docs.installDocs(server, await docs.configuredDocBackends(server, server.options.docs));
  (await import('./webrtc/webrtc-http.js')).installWebrtc(server);
  (await import('./sfu/install.js')).installSfu(server);
  void server;
}
