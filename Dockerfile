# serin: one image for the webhook and the watcher (`serin run`). The final stage is the file set of
# scripts/image-files.mjs (what `serin run` reaches by import, the production packages, package.json),
# the same set the tests check and run; on Node 24, an LTS line supported until April 2028.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/image-files.mjs ./scripts/
RUN npx tsc -p . && node scripts/image-files.mjs --out /image

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /image/ ./
# A numeric non-root user (no entry in /etc/passwd needed), so runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "--enable-source-maps", "dist/src/cli/main.js"]
CMD ["run"]
