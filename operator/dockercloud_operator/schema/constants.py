"""Names shared by every layer: the API group, label and annotation keys."""

GROUP = "app.dockercloud.dev"
VERSION = "v1"
KIND = "Service"
PLURAL = "services"
SINGULAR = "service"
SHORT_NAME = "dcs"
CATEGORY = "dockercloud"

FIELD_MANAGER = "dockercloud-operator"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_SERVICE = f"{GROUP}/service"

# A node carries `tags.dockercloud.dev/<tag>: "true"` for each Docker Cloud tag it has.
TAG_LABEL_PREFIX = "tags.dockercloud.dev/"

# Holds a Service while its children go, so `kubectl get dcs` can show it Terminating.
FINALIZER = f"{GROUP}/terminate"
# A start request (any new value): containers that stopped for good run again (restarts.py).
START_ANNOTATION = f"{GROUP}/start"
# A stack's Service resources carry `app.dockercloud.dev/stack: <stack name>`.
STACK_LABEL = f"{GROUP}/stack"
