# The kgtwin service image used by docker-compose.yml: the API, ingestion and the dashboard.

# The dashboard's bundle, built from the npm registry with the project's lock file.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM python:3.11-slim
WORKDIR /opt/kgtwin
COPY pyproject.toml README.md ./
COPY kgtwin ./kgtwin
COPY queries ./queries
COPY ontology ./ontology
COPY --from=web /web/dist ./web/dist
RUN pip install --no-cache-dir -e .
ENV KGTWIN_QUERIES=/opt/kgtwin/queries
ENTRYPOINT []
