# The kgtwin service image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /opt/kgtwin
COPY pyproject.toml README.md ./
COPY kgtwin ./kgtwin
COPY queries ./queries
COPY ontology ./ontology
RUN pip install --no-cache-dir -e .
ENV KGTWIN_QUERIES=/opt/kgtwin/queries
ENTRYPOINT []
