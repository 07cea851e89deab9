"""Service specs: a seeded mix for roll-outs (`rollout_spec`, `mutation`), and hypothesis
strategies for fuzzing (`fuzz_case`) that draw from the model's field types, their edges, and
the mutations of `tests/invalid_specs.py`."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from dockercloud_operator.schema import fields, model, parts
from tests.invalid_specs import INVALID_SPECS, VALID_SPEC

Object = dict[str, Any]

# -- roll-outs ----------------------------------------------------------------------------------

# (shape, weight): a Deployment, a sequential StatefulSet, a StatefulSet with a claim, EVERY_NODE.
SHAPES = [("deployment", 66), ("sequential", 14), ("volume", 6), ("every-node", 14)]
PORT = {"protocol": "tcp", "inner_port": 80}
PUBLISHED = {"protocol": "tcp", "inner_port": 443, "published": True}


def rollout_spec(rng: random.Random) -> Object:
    """A spec that can run on the bed (the kwok nodes), of one of the SHAPES."""
    shape = rng.choices([s for s, _ in SHAPES], [w for _, w in SHAPES])[0]
    spec: Object = {
        "image": f"nginx:1.{rng.randint(20, 27)}",
        "container_envvars": [{"key": "ROUND", "value": "0"}],
    }
    if shape == "every-node":
        spec["deployment_strategy"] = "EVERY_NODE"
    else:
        spec["target_num_containers"] = rng.randint(1, 3)
    if shape == "sequential":
        spec["sequential_deployment"] = True
    if shape == "volume":
        spec["bindings"] = [{"container_path": "/data"}]
    if rng.random() < 0.5:
        spec["container_ports"] = [PORT, PUBLISHED] if rng.random() < 0.3 else [PORT]
    if rng.random() < 0.15 and "roles" not in SKIPPED_MUTATIONS:
        spec["roles"] = ["global"]
    return spec


# Mutations `mutation` leaves out (`python -m chaos.run --skip-mutations roles`): to see what
# else a run finds while a known failure (roles-removed) is not fixed yet.
SKIPPED_MUTATIONS: set[str] = set()
MUTATIONS = ("image", "env", "redeploy", "ports", "roles", "scale", "kind")


def mutation(rng: random.Random, spec: Object, round_: int) -> Object:
    """A merge patch of `spec` that starts a roll-out or changes the set of children; `spec`
    is updated in place to what the service's spec becomes."""
    every_node = spec.get("deployment_strategy") == "EVERY_NODE"
    volume = bool(spec.get("bindings"))
    kinds = ["image", "env", "redeploy", "ports", "roles"]
    if not every_node:
        kinds += ["scale", "scale"]
    if not every_node and not volume:
        kinds.append("kind")  # Deployment <-> sequential StatefulSet
    kinds = [k for k in kinds if k not in SKIPPED_MUTATIONS] or ["env"]
    kind = rng.choice(kinds)
    patch: Object
    if kind == "image":
        patch = {"image": f"nginx:1.{rng.randint(20, 27)}"}
    elif kind == "env":
        patch = {"container_envvars": [{"key": "ROUND", "value": str(round_)}]}
    elif kind == "redeploy":
        patch = {"redeploy": {"token": f"r{round_}-{rng.randrange(10**6)}"}}
    elif kind == "ports":
        patch = {"container_ports": [] if spec.get("container_ports") else [PORT, PUBLISHED]}
    elif kind == "roles":
        patch = {"roles": [] if spec.get("roles") else ["global"]}
    elif kind == "scale":
        patch = {"target_num_containers": rng.randint(1, 3)}
    else:
        patch = {"sequential_deployment": not spec.get("sequential_deployment", False)}
    spec.update(patch)
    return patch


# -- fuzzing ------------------------------------------------------------------------------------

# target_num_containers the fuzzer draws at most, for stopped services (`--big-target`): what
# the schema allows. Numbered link variables name the first 10 containers only, so the count no
# longer costs the operator memory (finding huge-target: 2**31 - 1 once took gigabytes).
BIG_TARGET = fields.MAX_INT32
# Drawn on purpose besides the range: the counts that once broke the operator (20000 made a
# status bigger than the API server takes) and the largest the fuzzer may draw.
BIG_TARGET_EDGES = (1000, 20000, fields.MAX_INT32)


def big_targets() -> st.SearchStrategy[int]:
    edges = sorted({edge for edge in BIG_TARGET_EDGES if edge < BIG_TARGET} | {BIG_TARGET})
    return st.one_of(st.integers(0, BIG_TARGET), st.sampled_from(edges))


@dataclass(frozen=True)
class FuzzCase:
    """A spec to create, and how it was made (for the report)."""

    spec: Object
    origin: str  # "valid", "invalid:<id>" (tests/invalid_specs.py) or "mutated:<how>"
    name_suffix: str = ""  # an invalid metadata.name is the service's name plus this
    name_prefix: str = ""


def _regex(pattern: str, max_size: int | None = None) -> st.SearchStrategy[str]:
    strategy = st.from_regex(pattern, fullmatch=True)
    if max_size is not None:
        strategy = strategy.filter(lambda text: len(text) <= max_size)
    return strategy


DNS_LABEL = _regex(fields.DNS_LABEL, 63)
ABSOLUTE = st.one_of(
    _regex(r"/[a-z0-9._/-]{0,24}"),
    st.sampled_from(["/", "/data", "/var/lib/data", "/a/../b", "/a//b", "/a:b", "/tmp/"]),
    st.text(max_size=12).map(lambda text: "/" + text),
)
TEXT = st.text(max_size=40)
# Edges the regular expressions allow: long segments, upper case, digits only.
LONG_LABEL_KEY = st.sampled_from(
    ["a" * 64 + ".example.com/key", "example.com/" + "k" * 63, "x" * 63, "Upper.Case"]
)
DOMAINS = st.one_of(
    _regex(fields._DOMAIN, 60), st.sampled_from(["EXAMPLE.com", "a-b.c", "x" * 64, "db"])
)


@st.composite
def _ports(draw: st.DrawFn) -> list[Object]:
    count = draw(st.integers(0, 4))
    ports: list[Object] = []
    seen: set[tuple[int, str]] = set()
    outer: set[tuple[int, str]] = set()
    for _ in range(count):
        protocol = draw(st.sampled_from(["tcp", "udp"]))
        inner = draw(st.one_of(st.sampled_from([80, 443, 53, 8080]), st.integers(1, 65535)))
        if (inner, protocol) in seen:
            continue
        seen.add((inner, protocol))
        port: Object = {"protocol": protocol, "inner_port": inner}
        if draw(st.booleans()):
            port["port_name"] = draw(
                st.one_of(
                    _regex(r"[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?"),
                    st.sampled_from(["http", "web", "80", "a--b", "dup"]),
                )
            )
        if draw(st.booleans()):
            port["published"] = True
            if draw(st.booleans()):
                out = draw(st.integers(1, 65535))
                if (out, protocol) not in outer:
                    outer.add((out, protocol))
                    port["outer_port"] = out
        ports.append(port)
    return ports


@st.composite
def _bindings(draw: st.DrawFn) -> list[Object]:
    bindings: list[Object] = []
    for _ in range(draw(st.integers(0, 3))):
        shape = draw(st.sampled_from(["container", "host", "from"]))
        binding: Object
        mount = draw(st.one_of(st.sampled_from(["/data", "/srv"]), ABSOLUTE))  # duplicates too
        if shape == "container":
            binding = {"container_path": mount}
        elif shape == "host":
            binding = {"host_path": draw(ABSOLUTE), "container_path": mount}
        else:
            binding = {"volumes_from": draw(_reference())}
        if draw(st.booleans()):
            binding["rewritable"] = draw(st.booleans())
        bindings.append(binding)
    return bindings


def _reference() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([f"fz{i}" for i in range(8)]),
        st.uuids().map(lambda u: f"/api/app/v1/service/{u}/"),
        DNS_LABEL,
    )


@st.composite
def _links(draw: st.DrawFn) -> list[Object]:
    links: dict[str, Object] = {}
    for _ in range(draw(st.integers(0, 3))):
        link: Object = {"to_service": draw(_reference())}
        if draw(st.booleans()):
            link["name"] = draw(_regex(fields.LINK_NAME, 63))
        links.setdefault(link["to_service"], link)
    return list(links.values())


def _unique(items: st.SearchStrategy[Any], max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(items, max_size=max_size, unique=True)


def _ip() -> st.SearchStrategy[str]:
    return st.one_of(
        st.ip_addresses().map(str), st.sampled_from(["::ffff:10.0.0.1", "10.0.0.1", "fe80::1"])
    )


def _optional_fields() -> dict[str, st.SearchStrategy[Any]]:
    envvar = st.fixed_dictionaries({"key": _regex(fields.ENV_KEY, 40), "value": TEXT})
    return {
        "nickname": TEXT,
        "redeploy": st.fixed_dictionaries(
            {"token": st.text(min_size=1, max_size=20)},
            optional={"reuse_volumes": st.booleans()},
        ),
        "run_command": TEXT,
        "entrypoint": TEXT,
        "container_ports": _ports(),
        "container_envvars": st.lists(envvar, max_size=4, unique_by=lambda e: e["key"]),
        "linked_to_service": _links(),
        "bindings": _bindings(),
        "autorestart": st.sampled_from(list(parts.Autorestart)).map(str),
        "autodestroy": st.sampled_from(list(parts.Autodestroy)).map(str),
        "autoredeploy": st.booleans(),
        "sequential_deployment": st.booleans(),
        "roles": st.sampled_from([[], ["global"]]),
        "privileged": st.booleans(),
        "deployment_strategy": st.sampled_from(list(parts.DeploymentStrategy)).map(str),
        "tags": st.lists(
            st.fixed_dictionaries({"name": _regex(fields.TAG_NAME, 63)}),
            max_size=2,
            unique_by=lambda t: t["name"],
        ),
        "net": st.sampled_from(list(parts.NetworkMode)).map(str),
        "pid": st.sampled_from(list(parts.PidMode)).map(str),
        "working_dir": ABSOLUTE,
        "user": st.one_of(
            _regex(fields.USER, 40), st.sampled_from(["root", "1000", "1000:1000", "99999999999"])
        ),
        "hostname": DNS_LABEL,
        "domainname": _regex(fields.DNS_SUBDOMAIN, 100),
        "mac_address": _regex(fields.MAC_ADDRESS),
        "cgroup_parent": TEXT,
        "tty": st.booleans(),
        "stdin_open": st.booleans(),
        "read_only": st.booleans(),
        "dns": _unique(_ip(), 2),
        "dns_search": st.one_of(
            _unique(_regex(fields.DNS_SUBDOMAIN, 60), 4),
            st.integers(7, 40).map(lambda n: [f"d{i}.example.com" for i in range(n)]),
        ),
        "cap_add": _unique(_regex(fields.CAPABILITY, 20), 3),
        "cap_drop": _unique(_regex(fields.CAPABILITY, 20), 3),
        "devices": st.lists(_regex(fields.DEVICE, 60), max_size=2),
        "extra_hosts": st.lists(st.tuples(DOMAINS, _ip()).map(":".join), max_size=3),
        "security_opt": st.lists(
            st.one_of(
                st.sampled_from(
                    ["no-new-privileges", "seccomp=unconfined", "apparmor=unconfined", "label=x"]
                ),
                TEXT,
            ),
            max_size=3,
        ),
        "labels": st.one_of(
            st.dictionaries(
                st.one_of(_regex(fields.LABEL_KEY, 80), LONG_LABEL_KEY), TEXT, max_size=3
            ),
            # Near and past what a pod template's annotations may hold (256 KiB).
            st.integers(50, 80).map(lambda n: {f"k{i}": "x" * 4000 for i in range(n)}),
        ),
        "cpu_shares": st.integers(2, 262144),
        "cpuset": _regex(fields.CPUSET, 30),
        "stack": st.text(max_size=60),
    }


def field_values(name: str) -> st.SearchStrategy[Any]:
    """Values of one optional spec field, as `valid_spec` draws them."""
    return _optional_fields()[name]


@st.composite
def valid_spec(draw: st.DrawFn) -> Object:
    """A spec of the model's types, within its constraints (the server may still refuse some:
    cross-field rules, and the rules the schema states only for the server)."""
    optional = _optional_fields()
    chosen = draw(st.sets(st.sampled_from(sorted(optional)), max_size=8))
    image = draw(
        st.one_of(
            st.sampled_from(["nginx", "nginx:1.27", "tutum/hello-world:latest", "mysql:5.7"]),
            _regex(fields.IMAGE_REFERENCE, 120),
        )
    )
    spec: Object = {"image": image}
    for name in sorted(chosen):
        spec[name] = draw(optional[name])
    running = draw(st.one_of(st.none(), st.booleans()))
    if running is not None:
        spec["running"] = running
    if draw(st.booleans()):
        # Big counts only for stopped services: a bed of 3 kwok nodes runs a handful of pods.
        big = running is False and draw(st.booleans())
        spec["target_num_containers"] = draw(big_targets() if big else st.integers(0, 3))
    if draw(st.booleans()):
        memory = draw(st.integers(1, fields.MAX_INT32))
        spec["memory"] = memory
        if draw(st.booleans()):
            spec["memory_swap"] = draw(
                st.one_of(st.just(-1), st.integers(memory, fields.MAX_INT32))
            )
    return spec


WRONG_TYPES: list[Any] = ["three", 3, 3.0, 2.5, True, None, [], {}, [1], {"a": 1}, -1, 2**31]


@st.composite
def fuzz_case(draw: st.DrawFn) -> FuzzCase:
    """Mostly valid specs; else a case of tests/invalid_specs.py over a valid spec, or a valid
    spec with one field of the wrong type, out of range, or unknown."""
    spec = draw(valid_spec())
    how = draw(st.sampled_from(["valid"] * 5 + ["invalid"] * 2 + ["mutated"] * 3))
    if how == "valid":
        if draw(st.integers(0, 9)) == 0:
            return FuzzCase(spec, "valid:name", name_suffix="")  # spec.name set below
        return FuzzCase(spec, "valid")
    if how == "invalid":
        case = draw(st.sampled_from(INVALID_SPECS))
        merged = {**VALID_SPEC, **spec, **case.spec}
        merged = {key: value for key, value in merged.items() if value is not None}
        if case.metadata_name != "invalid":
            prefix = "1" if case.metadata_name[0].isdigit() else ""
            suffix = "w" * 60 if len(case.metadata_name) > 52 else ""
            return FuzzCase(merged, f"invalid:{case.id}", name_suffix=suffix, name_prefix=prefix)
        return FuzzCase(merged, f"invalid:{case.id}")
    field_name = draw(st.sampled_from(sorted(model.ServiceSpec.model_fields)))
    value = draw(st.sampled_from(WRONG_TYPES))
    mutated = {**spec, field_name: value}
    if draw(st.integers(0, 5)) == 0:
        mutated = {**spec, f"x_{uuid.UUID(int=draw(st.integers(0, 2**32))).hex[:6]}": 1}
        return FuzzCase(mutated, "mutated:unknown-field")
    return FuzzCase(mutated, f"mutated:{field_name}={value!r}")
