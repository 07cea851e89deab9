"""Every Kubernetes API call `kubectl dcs` makes, and its errors as clear lines."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes import config as _config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from dockercloud_operator.cli.errors import CliError, NotFound
from dockercloud_operator.documented.logs import service_container
from dockercloud_operator.documented.naming import looks_like_uuid_prefix
from dockercloud_operator.schema import constants, names

Object = dict[str, Any]
# The client's config loaders are unannotated; their results are checked where they are used.
config: Any = _config

FIELD_MANAGER = "kubectl-dcs"
CRD_HINT = (
    "install its CustomResourceDefinition first: "
    "kubectl apply --server-side -f crds/service.yaml "
    "(or: dockercloud-operator crd | kubectl apply --server-side -f -)"
)


def _details(body: str | None) -> Object:
    """The `details` of an API error's Status body."""
    return dict(_status_body(body).get("details") or {})


def _status_body(body: str | None) -> Object:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def api_error_message(status: int, body: str | None, reason: str | None, namespace: str) -> str:
    """A clear line for an API error: a missing service, a missing CRD, or the server's own
    message (which names the field and what is allowed)."""
    parsed = _status_body(body)
    message = parsed.get("message") or reason or "unknown error"
    details = _details(body)
    if status == 404:
        if details.get("name"):  # the object is missing, not its kind
            kind = "service" if details.get("kind") in (None, constants.PLURAL) else "pod"
            return f'{kind} "{details["name"]}" not found in namespace "{namespace}"'
        return (
            f"the Service resource ({constants.PLURAL}.{constants.GROUP}) is not installed in "
            f"this cluster: {CRD_HINT}"
        )
    if status == 409 and parsed.get("reason") == "AlreadyExists":
        return f'service "{details.get("name", "")}" already exists in namespace "{namespace}"'
    if status == 401:
        return f"not authorized by the API server ({message}): check the kubeconfig's credentials"
    if status == 403:
        return f"forbidden: {message}"
    return str(message) if status in (400, 422) else f"{message} (HTTP {status})"


def transport_reason(error: BaseException) -> str:
    """The cause of a connection failure in a few words (urllib3 nests it in a long text)."""
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip(" ()\"'")


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig's (current or given) context, else `default`."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError):
        return "default"
    chosen = current
    if context:
        chosen = next((c for c in contexts or [] if c.get("name") == context), None)
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"


class Cluster:
    """Every API call the CLI makes."""

    def __init__(self, api: Any, namespace: str, host: str = "the API server") -> None:
        self.api = api
        self.namespace = namespace
        self.host = host
        self.objects = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None, namespace: str | None) -> Cluster:
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration
            )
        except config.ConfigException as error:
            if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
                config.load_incluster_config(client_configuration=configuration)
            else:
                raise CliError(
                    f"no usable kubeconfig ({path}): {error}; set KUBECONFIG or pass --kubeconfig"
                ) from error
        except OSError as error:
            raise CliError(f"cannot read the kubeconfig {path}: {error}") from error
        configuration.retries = 1  # fail fast when there is no cluster
        chosen = namespace or context_namespace(path, context)
        return cls(client.ApiClient(configuration), chosen, str(configuration.host))

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ApiException as error:
            message = api_error_message(error.status, error.body, error.reason, self.namespace)
            if error.status == 404 and _details(error.body).get("name"):
                raise NotFound(message) from None
            raise CliError(message) from None
        except TransportError as error:
            raise CliError(
                f"cannot reach the Kubernetes API server at {self.host} "
                f"({transport_reason(error)}): is the cluster up, and is this the right "
                "kubeconfig (KUBECONFIG, --kubeconfig)?"
            ) from None

    def _args(self, namespace: str | None = None) -> tuple[str, str, str, str]:
        return (constants.GROUP, constants.VERSION, namespace or self.namespace, constants.PLURAL)

    def get(self, name: str) -> Object:
        found: Object = self._call(self.objects.get_namespaced_custom_object, *self._args(), name)
        return found

    def get_or_none(self, name: str) -> Object | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def list_services(
        self, all_namespaces: bool = False, field_selector: str | None = None
    ) -> list[Object]:
        options = {"field_selector": field_selector} if field_selector else {}
        if all_namespaces:
            found = self._call(
                self.objects.list_cluster_custom_object,
                constants.GROUP,
                constants.VERSION,
                constants.PLURAL,
                **options,
            )
        else:
            found = self._call(self.objects.list_namespaced_custom_object, *self._args(), **options)
        items: list[Object] = found.get("items", [])
        return items

    def resolve(self, identifier: str) -> Object:
        """A service by name, or by its uuid (long or a unique prefix, as `ps` shows it)."""
        try:
            return self.get(identifier)
        except NotFound:
            if not looks_like_uuid_prefix(identifier):
                raise
            matches = [
                s
                for s in self.list_services()
                if (s.get("metadata", {}).get("uid") or "").startswith(identifier)
            ]
            if len(matches) == 1:
                return matches[0]
            if matches:
                found = ", ".join(s["metadata"]["name"] for s in matches)
                raise CliError(
                    f'"{identifier}" is the uuid prefix of several services: {found}'
                ) from None
            raise NotFound(
                f'service "{identifier}" not found in namespace "{self.namespace}" '
                "(by name or uuid)"
            ) from None

    def create(self, manifest: Object) -> Object:
        created: Object = self._call(
            self.objects.create_namespaced_custom_object,
            *self._args(),
            manifest,
            field_manager=FIELD_MANAGER,
            field_validation="Strict",
        )
        return created

    def patch(self, name: str, patch: Object) -> Object:
        patched: Object = self._call(
            self.objects.patch_namespaced_custom_object,
            *self._args(),
            name,
            patch,
            field_manager=FIELD_MANAGER,
        )
        return patched

    def scale(self, name: str, replicas: int) -> None:
        self._call(
            self.objects.patch_namespaced_custom_object_scale,
            *self._args(),
            name,
            {"spec": {"replicas": replicas}},
            field_manager=FIELD_MANAGER,
        )

    def delete(self, name: str) -> None:
        self._call(self.objects.delete_namespaced_custom_object, *self._args(), name)

    # -- stacks ------------------------------------------------------------------------------

    def _stacks(self) -> tuple[str, str, str, str]:
        return (constants.GROUP, constants.VERSION, self.namespace, "stacks")

    def get_stack(self, name: str) -> Object:
        found: Object = self._call(self.objects.get_namespaced_custom_object, *self._stacks(), name)
        return found

    def list_stacks(self) -> list[Object]:
        found = self._call(self.objects.list_namespaced_custom_object, *self._stacks())
        items: list[Object] = found.get("items", [])
        return items

    def create_stack(self, manifest: Object) -> Object:
        created: Object = self._call(
            self.objects.create_namespaced_custom_object, *self._stacks(), manifest,
            field_manager=FIELD_MANAGER, field_validation="Strict",
        )  # fmt: skip
        return created

    def patch_stack(self, name: str, patch: Object) -> Object:
        patched: Object = self._call(
            self.objects.patch_namespaced_custom_object, *self._stacks(), name, patch,
            field_manager=FIELD_MANAGER,
        )  # fmt: skip
        return patched

    def delete_stack(self, name: str) -> None:
        self._call(self.objects.delete_namespaced_custom_object, *self._stacks(), name)

    def pods(self, service: str) -> list[Any]:
        found = self._call(
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=names.selector(service),
        )
        items: list[Any] = found.items
        return items

    def pod_exists(self, name: str) -> bool:
        try:
            self._call(self.core.read_namespaced_pod, name, self.namespace)
        except NotFound:
            return False
        return True

    def _log_options(self, pod: Any, tail: int | None) -> Object:
        options: Object = {"container": _container(pod), "timestamps": True}
        if tail is not None:
            options["tail_lines"] = tail
        return options

    def pod_log(self, pod: Any, tail: int | None) -> str:
        """The container's log, each line `<RFC 3339 time> <text>`."""
        text = self._call(
            self.core.read_namespaced_pod_log,
            pod.metadata.name,
            self.namespace,
            **self._log_options(pod, tail),
        )
        return str(text or "")

    def follow_pod_log(self, pod: Any, tail: int | None) -> Any:
        """The container's log as an open stream (an iterable of lines, as bytes). Raises
        ApiException as is: the caller tells a container not started yet (400) apart."""
        return self.core.read_namespaced_pod_log(
            pod.metadata.name,
            self.namespace,
            follow=True,
            _preload_content=False,
            **self._log_options(pod, tail),
        )


def _container(pod: Any) -> str:
    service = pod.metadata.labels.get(constants.LABEL_SERVICE, "")
    return service_container(names.workload(service), [c.name for c in pod.spec.containers])
