"""The field types of the Service resource: the patterns and bounds its values keep, each with
the CEL rule or message that states it in the CRD (`x-kubernetes-validations`), and the base of
its models. `model.py` builds the resource from them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
)

# -- reusable constraints -----------------------------------------------------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = rf"^{_LABEL}$"
DNS_SUBDOMAIN = rf"^{_LABEL}(\.{_LABEL})*$"
ABSOLUTE_PATH = r"^/.*$"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# /api/app/v1/service/<uuid>/, or /api/app/v1/<namespace>/service/<uuid>/ (`names.resource_uri`).
SERVICE_URI = rf"/api/app/v1/({_LABEL}/)?service/{UUID}/"
# A reference to another service: its resource URI, or its name in the same namespace.
SERVICE_REFERENCE = rf"^({SERVICE_URI}|{_LABEL})$"
# Docker's image reference grammar: [registry[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN = r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
IMAGE_REFERENCE = (
    rf"^({_DOMAIN}(:[0-9]+)?/)?{_COMPONENT}(/{_COMPONENT})*"
    r"(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)
ENV_KEY = r"^[A-Za-z_][A-Za-z0-9_]*$"
LINK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
TAG_NAME = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
CAPABILITY = r"^[A-Z][A-Z_]*$"
CPUSET = r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$"
MAC_ADDRESS = r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"
DEVICE = r"^/[^:]+(:/[^:]+)?(:[rwm]{1,3})?$"
USER = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$"
# hostAliases hostnames are lower-case DNS names (RFC 1123 subdomains).
EXTRA_HOST = rf"^{_LABEL}(\.{_LABEL})*:[0-9A-Fa-f.:]+$"
# A container port name is an IANA service name: '-'-separated runs of lower-case letters and
# digits (so no leading, trailing or double '-'), one run holding a letter at least.
IANA_SERVICE_NAME = r"^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$"
# Kubernetes annotation keys: an optional DNS prefix and a name of at most 63 characters.
LABEL_KEY = rf"^({_LABEL}(\.{_LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?$"
# A service's name names its Kubernetes Services (DNS-1035 labels) and, with a suffix, its
# containers, so it is a DNS-1035 label short enough to leave room for those suffixes.
SERVICE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
SERVICE_NAME_MAX = 52

MAX_LIST = 256  # bounds every list, so the API server can budget the cost of CEL rules
MAX_STRING = 4096
MAX_INT32 = 2**31 - 1
# Fewer bindings than other lists: the rule that their container paths are unique compares
# every pair of paths (up to MAX_STRING long), which must fit the API server's cost budget.
MAX_BINDINGS = 64
# A pod's DNS search list: at most 32 domains and 2048 characters joined by spaces.
MAX_DNS_SEARCH, MAX_DNS_SEARCH_CHARS = 32, 2048
# labels become the pod template's annotations, which may hold 256 KiB (keys and values, UTF-8
# bytes) in all; the operator adds a few of its own (the redeploy token), so labels get less.
MAX_LABELS_BYTES = 250 * 1024

# The CRD turns a pattern with words (`SAYS`) into a CEL rule whose message is those words, so
# the API server says what is allowed instead of quoting a regular expression.
SAYS = "x-dockercloud-says"


def cel(rule: str, message: str, **extra: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry."""
    return {"rule": rule, "message": message, **extra}


def spec_rule(rule: str, message: str, field: str) -> dict[str, str]:
    """A rule of the spec about one field: its message starts with the field's path. The API
    server reports a rule that fails at that path, but one it cannot evaluate (a number
    written 3.0 for an integer passes the schema's type check, and CEL refuses it) at `spec`
    alone, with only the message to say which field it is."""
    return cel(rule, f"spec.{field}: {message}", fieldPath=f".{field}")


def kubernetes(**extensions: Any) -> dict[str, Any]:
    """Schema extensions for the CRD, spelled the Kubernetes way (`x-kubernetes-*`)."""
    return {f"x-kubernetes-{key.replace('_', '-')}": value for key, value in extensions.items()}


def _says(words: str, *rules: dict[str, str]) -> Any:
    """The words for a pattern's mismatch, and any CEL `rules` the value must pass too."""
    extra: dict[str, Any] = {SAYS: words}
    if rules:
        extra |= kubernetes(validations=list(rules))
    return Field(json_schema_extra=extra)


def _checked(check: Callable[[str], bool], message: str) -> AfterValidator:
    """The offline side of a CEL rule on a string: `message` when `check` fails."""

    def validate(value: str) -> str:
        if not check(value):
            raise ValueError(message)
        return value

    return AfterValidator(validate)


Str = Annotated[str, StringConstraints(max_length=MAX_STRING)]
Name = Annotated[str, StringConstraints(max_length=253)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
ImageReference = Annotated[
    str,
    StringConstraints(pattern=IMAGE_REFERENCE, max_length=512),
    _says(
        "must be a Docker image reference, [registry[:port]/]name[:tag][@sha256:digest], "
        "with a lowercase name"
    ),
]
DnsLabel = Annotated[
    str,
    StringConstraints(pattern=DNS_LABEL, max_length=63),
    _says(
        "must be a DNS label: lowercase letters, digits and '-', starting and ending with a "
        "letter or digit, at most 63 characters"
    ),
]
DnsSubdomain = Annotated[
    str,
    StringConstraints(pattern=DNS_SUBDOMAIN, max_length=253),
    _says("must be a DNS name: lowercase DNS labels separated by dots"),
]
AbsolutePath = Annotated[
    str,
    StringConstraints(pattern=ABSOLUTE_PATH, max_length=MAX_STRING),
    _says("must be an absolute path (starting with /)"),
]
ServiceReference = Annotated[
    str,
    StringConstraints(pattern=SERVICE_REFERENCE, max_length=253),
    _says(
        "must be a service's resource URI (/api/app/v1/[<namespace>/]service/<uuid>/) or the "
        "name of a service in the same namespace"
    ),
]
ServiceUri = Annotated[
    str,
    StringConstraints(pattern=rf"^{SERVICE_URI}$", max_length=253),
    _says("must be a service's resource URI (/api/app/v1/[<namespace>/]service/<uuid>/)"),
]
EnvKey = Annotated[
    str,
    StringConstraints(pattern=ENV_KEY, max_length=253),
    _says("must be letters, digits and _, not starting with a digit"),
]
LinkName = Annotated[
    str,
    StringConstraints(pattern=LINK_NAME, max_length=63),
    _says("must be a letter or digit, then letters, digits, '_', '.' or '-'"),
]
TagName = Annotated[
    str,
    StringConstraints(pattern=TAG_NAME, max_length=63),
    _says(
        "must be 1-63 letters, digits, '_', '.' or '-', starting and ending with a letter or digit"
    ),
]
PortName = Annotated[
    str,
    StringConstraints(pattern=IANA_SERVICE_NAME, max_length=15),
    _says(
        "must be an IANA service name: at most 15 lowercase letters, digits and '-', with a "
        "letter at least, starting and ending with a letter or digit, without '--'"
    ),
]
Capability = Annotated[
    str,
    StringConstraints(pattern=CAPABILITY, max_length=64),
    _says("must be a capability name in capitals, e.g. NET_ADMIN or ALL"),
]
Cpuset = Annotated[
    str,
    StringConstraints(pattern=CPUSET, max_length=253),
    _says("must list CPUs, e.g. 0,1 or 0-3"),
]
MacAddress = Annotated[
    str,
    StringConstraints(pattern=MAC_ADDRESS, max_length=17),
    _says("must be a MAC address, e.g. 02:42:ac:11:65:43"),
]
Device = Annotated[
    str,
    StringConstraints(pattern=DEVICE, max_length=1024),
    _says(
        "must be host_path[:container_path][:permissions]: absolute paths, permissions of r, w, m"
    ),
]
_ID_RANGE = (
    "a numeric uid or gid must be at most 2147483647, the most a pod's runAsUser or runAsGroup "
    "takes"
)
User = Annotated[
    str,
    StringConstraints(pattern=USER, max_length=253),
    _says(
        "must be a user name or uid, optionally followed by :group or :gid",
        # Without int(), which would overflow: at most 9 digits after leading zeros, or 10
        # that compare (as text) at most 2147483647.
        cel(
            "self.split(':').all(n, !n.matches('^[0-9]+$') || n.matches('^0*[0-9]{1,9}$') || "
            "(n.matches('^0*[0-9]{10}$') && n.substring(size(n) - 10) <= '2147483647'))",
            _ID_RANGE,
        ),
    ),
    _checked(
        lambda user: all(
            not re.fullmatch("[0-9]+", n) or int(n) <= MAX_INT32 for n in user.split(":")
        ),
        _ID_RANGE,
    ),
]
_HOSTNAME_LENGTH = "the hostname of an extra_hosts entry must be at most 253 characters"
ExtraHost = Annotated[
    str,
    StringConstraints(pattern=EXTRA_HOST, max_length=300),
    _says(
        "must be hostname:IP, the hostname a lowercase DNS name (lowercase letters, digits, "
        "'-' and '.')",
        cel("self.indexOf(':') <= 253", _HOSTNAME_LENGTH),
    ),
    _checked(lambda entry: len(entry.partition(":")[0]) <= 253, _HOSTNAME_LENGTH),
]
_BACKSTEPS = "must not contain a '..' element: a host path cannot step back"
HostPath = Annotated[
    str,
    StringConstraints(pattern=ABSOLUTE_PATH, max_length=MAX_STRING),
    _says(
        "must be an absolute path (starting with /)",
        cel(r"!self.matches(r'(^|/)\.\.(/|$)')", _BACKSTEPS),
    ),
    _checked(lambda path: ".." not in path.split("/"), _BACKSTEPS),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True, validate_default=True)
