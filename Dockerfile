# Worker and bot image: build once, run either entry point (see docker-compose.yml).
# Node 24 LTS, pinned; CI tests the same major (.ci/run).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY worker.ts bot.ts ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# docker stop sends SIGTERM: the worker drains, the bot answers what is in flight, both exit 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/worker.js"]
