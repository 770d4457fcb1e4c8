# syntax=docker/dockerfile:1
# Aqueduct server image (README §Install → Container). Multi-stage:
#   build   — npm ci, compile every package, `npm pack` @aqueduct/protocol and @aqueduct/server
#             (the same tarballs a user installs from npm; prepack bundles the demo/admin pages);
#   install — installs those tarballs with production dependencies only (better-sqlite3 is native:
#             a prebuilt binary, or compiled with the build tools of this stage);
#   runtime — Node 20 slim, the installed packages, a non-root user, a data volume, a health check.
# Build: docker build -t aqueduct .      Run: docker run -p 8787:8787 -v aqueduct-data:/data aqueduct

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# Manifests first: the npm ci layer is cached until a dependency changes.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/client/package.json packages/client/
COPY packages/react/package.json packages/react/
COPY packages/testkit/package.json packages/testkit/
COPY packages/server/package.json packages/server/
COPY packages/demo/package.json packages/demo/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY scripts/ scripts/
COPY packages/ packages/
RUN npm run build && mkdir /pkgs \
 && npm pack --pack-destination /pkgs -w packages/protocol -w packages/server

FROM ${NODE_IMAGE} AS install
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /pkgs/ /pkgs/
RUN echo '{"name":"aqueduct-app","private":true,"type":"module"}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /pkgs/aqueduct-protocol-*.tgz /pkgs/aqueduct-server-*.tgz \
 && node -e "import('@aqueduct/server').then(() => console.log('aqueduct: installed'))"

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    AQUEDUCT_DATA_DIR=/data
RUN groupadd --system --gid 10001 aqueduct \
 && useradd --system --uid 10001 --gid aqueduct --home-dir /app --shell /usr/sbin/nologin aqueduct \
 && mkdir -p /data && chown aqueduct:aqueduct /data
WORKDIR /app
COPY --from=install --chown=root:root /app /app
USER aqueduct
VOLUME ["/data"]
EXPOSE 8787
# Liveness: /healthz (the process serves). Load balancers should poll /readyz instead (503 while a
# backend is down and during shutdown.readyzGraceMs after SIGTERM).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: /readyz fails for shutdown.readyzGraceMs (2 s), then clients are told to reconnect (4000),
# documents are flushed and the process exits; allow it ~20 s (docker stop -t 20, compose stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/node_modules/@aqueduct/server/bin/aqueduct.js"]
CMD ["serve"]
