# Worker and bot image: build once, run either entry point (see docker-compose.yml).
# Node 24 LTS, pinned; CI tests the same major (.ci/run).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY worker.ts bot.ts workflow-threads.cjs ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/workflow-threads.cjs ./
USER node
# docker stop sends SIGTERM: the worker drains, the bot answers what is in flight, both exit 0.
STOPSIGNAL SIGTERM
# workflow-threads.cjs: no per-promise stack traces in the workflow thread (see the file).
CMD ["node", "--require", "./workflow-threads.cjs", "dist/worker.js"]
