# The operator's image: `docker build -t dockercloud-operator:0.1.0 .`
# (manifests/kustomization.yaml names that image; see docs/operations.md).
# The test bed has no container engine, so this file is not built by `make test`.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --root-user-action=ignore --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
# A user of its own, by number, so that `runAsNonRoot` can verify it without a name lookup.
RUN groupadd --gid 10001 operator \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin operator
USER 10001:10001
# 8080: /metrics and /healthz; 8081: kopf's liveness endpoint (when DOCKERCLOUD_HEALTH_PORT says).
EXPOSE 8080 8081
# The operator by default; the REST API Deployment passes `api ...` (manifests/api.yaml).
ENTRYPOINT ["dockercloud-operator"]
CMD ["run"]
