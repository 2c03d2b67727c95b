# The registry as one image for the API, the workers and beat (see compose.yaml and
# docs/operations.md). Not built in CI: no container engine runs there.
FROM python:3.11-slim
WORKDIR /srv/registry
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY workers ./workers
RUN pip install --no-cache-dir . && useradd --system registry \
    && mkdir /var/lib/registry-jobs && chown registry /var/lib/registry-jobs
USER registry
ENTRYPOINT ["registry"]
CMD ["serve", "--host", "0.0.0.0"]
