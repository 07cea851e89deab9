"""Stackfiles (docker-cloud.yml) as Stack specs and back: every key, each accepted form, and
each error naming the service, the key and the line."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from dockercloud_operator.documented.stackfile import (
    StackfileError,
    stack_name,
    to_spec,
    to_stackfile,
)

Object = dict[str, Any]
ENV = {"FROM_SHELL": "shell value"}


def web(keys: str) -> Object:
    """The converted `web` service of a stackfile whose web has `keys` (and a db to link)."""
    text = "web:\n  image: nginx\n" + textwrap.indent(textwrap.dedent(keys), "  ") + "\n"
    text += "db:\n  image: mysql\n"
    member: Object = to_spec(text, ENV)["services"][0]
    return member


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("autodestroy: no", {"autodestroy": "OFF"}),
        ("autodestroy: on-success", {"autodestroy": "ON_SUCCESS"}),
        ("autodestroy: always", {"autodestroy": "ALWAYS"}),
        ("autoredeploy: true", {"autoredeploy": True}),
        ("autorestart: no", {"autorestart": "OFF"}),
        ("autorestart: on-failure", {"autorestart": "ON_FAILURE"}),
        ("restart: always", {"autorestart": "ALWAYS"}),
        ("cap_add: [NET_ADMIN]", {"cap_add": ["NET_ADMIN"]}),
        ("cap_drop: [MKNOD]", {"cap_drop": ["MKNOD"]}),
        ("cgroup_parent: m-executor", {"cgroup_parent": "m-executor"}),
        ("command: /run.sh --fast", {"run_command": "/run.sh --fast"}),
        ("command: [/run.sh, a b]", {"run_command": "/run.sh 'a b'"}),
        ("cpu_shares: 512", {"cpu_shares": 512}),
        ("cpuset: 0,1", {"cpuset": "0,1"}),
        ("deployment_strategy: high_availability", {"deployment_strategy": "HIGH_AVAILABILITY"}),
        ("deployment_strategy: every_node", {"deployment_strategy": "EVERY_NODE"}),
        ("devices: [/dev/ttyUSB0:/dev/ttyUSB0]", {"devices": ["/dev/ttyUSB0:/dev/ttyUSB0"]}),
        ("dns: 8.8.8.8", {"dns": ["8.8.8.8"]}),
        ("dns: [8.8.8.8, 9.9.9.9]", {"dns": ["8.8.8.8", "9.9.9.9"]}),
        ("dns_search: example.com", {"dns_search": ["example.com"]}),
        ("dns_search: [a.com, b.com]", {"dns_search": ["a.com", "b.com"]}),
        ("domainname: foo.com", {"domainname": "foo.com"}),
        ("entrypoint: /entry.sh", {"entrypoint": "/entry.sh"}),
        ("entrypoint: [/entry.sh, -x]", {"entrypoint": "/entry.sh -x"}),
        ("environment: [A=1, B=two words]",
         {"container_envvars": [{"key": "A", "value": "1"}, {"key": "B", "value": "two words"}]}),
        ("environment: {A: 1, B: true}",
         {"container_envvars": [{"key": "A", "value": "1"}, {"key": "B", "value": "true"}]}),
        ("environment: [FROM_SHELL]",
         {"container_envvars": [{"key": "FROM_SHELL", "value": "shell value"}]}),
        ("environment: {FROM_SHELL: null}",
         {"container_envvars": [{"key": "FROM_SHELL", "value": "shell value"}]}),
        ('expose: ["80", "90/udp"]', {"container_ports": [
            {"protocol": "tcp", "inner_port": 80}, {"protocol": "udp", "inner_port": 90}]}),
        ('extra_hosts: ["somehost:162.242.195.82"]',
         {"extra_hosts": ["somehost:162.242.195.82"]}),
        ("hostname: foo", {"hostname": "foo"}),
        ("labels: [com.example.a=1, com.example.b]",
         {"labels": {"com.example.a": "1", "com.example.b": ""}}),
        ("labels: {com.example.a: x}", {"labels": {"com.example.a": "x"}}),
        ("links: [db]", {"linked_to_service": [{"to_service": "db"}]}),
        ("links: ['db:mysql']", {"linked_to_service": [{"to_service": "db", "name": "mysql"}]}),
        ("links: ['db.other:DB']",
         {"linked_to_service": [{"to_service": "db.other", "name": "DB"}]}),
        ("mac_address: 02:42:ac:11:65:43", {"mac_address": "02:42:ac:11:65:43"}),
        ("mem_limit: 100000m", {"memory": 100000}),
        ("mem_limit: 1g", {"memory": 1024}),
        ("mem_limit: 512k", {"memory": 1}),
        ("mem_limit: 1g\nmemswap_limit: 2g", {"memswap_limit": None, "memory_swap": 2048}),
        ("memswap_limit: -1", {"memory_swap": -1}),
        ("net: host", {"net": "host"}),
        ("nickname: the web", {"nickname": "the web"}),
        ("pid: host", {"pid": "host"}),
        ('ports: ["80"]',
         {"container_ports": [{"protocol": "tcp", "inner_port": 80, "published": True}]}),
        ('ports: ["443:443"]', {"container_ports": [
            {"protocol": "tcp", "inner_port": 443, "published": True, "outer_port": 443}]}),
        ('ports: ["500/udp"]',
         {"container_ports": [{"protocol": "udp", "inner_port": 500, "published": True}]}),
        ('ports: ["4500:4500/udp"]', {"container_ports": [
            {"protocol": "udp", "inner_port": 4500, "published": True, "outer_port": 4500}]}),
        ("privileged: true", {"privileged": True}),
        ("read_only: true", {"read_only": True}),
        ("roles: [global]", {"roles": ["global"]}),
        ("security_opt: [apparmor:unconfined]", {"security_opt": ["apparmor:unconfined"]}),
        ("sequential_deployment: true", {"sequential_deployment": True}),
        ("stdin_open: true", {"stdin_open": True}),
        ("tags: [ssd, eu]", {"tags": [{"name": "ssd"}, {"name": "eu"}]}),
        ("target_num_containers: 4", {"target_num_containers": 4}),
        ("tty: true", {"tty": True}),
        ("user: '1000'", {"user": "1000"}),
        ("volumes: [/data]", {"bindings": [{"container_path": "/data"}]}),
        ("volumes: ['/etc:/etc']", {"bindings": [{"host_path": "/etc", "container_path": "/etc"}]}),
        ("volumes: ['/etc:/etc:ro']", {"bindings": [
            {"host_path": "/etc", "container_path": "/etc", "rewritable": False}]}),
        ("volumes: ['/etc:/etc:rw']",
         {"bindings": [{"host_path": "/etc", "container_path": "/etc"}]}),
        ("volumes_from: [db]", {"bindings": [{"volumes_from": "db"}]}),
        ("volumes_from: [db.other]", {"bindings": [{"volumes_from": "db.other"}]}),
        ("working_dir: /app", {"working_dir": "/app"}),
    ],
)  # fmt: skip
def test_each_key_converts_to_its_documented_attribute(keys: str, expected: Object) -> None:
    member = web(keys)
    assert member["name"] == "web" and member["image"] == "nginx"
    for attribute, value in expected.items():
        if value is None:
            assert attribute not in member
        else:
            assert member[attribute] == value, (attribute, member)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("web:\n  image: nginx\n  build: .\n", "line 3: service 'web', key 'build': not a "),
        ("web:\n  image: nginx\n  external_links: [x]\n", "key 'external_links': not a stackfile"),
        ("web:\n  image: nginx\n  env_file: .env\n", "key 'env_file': not a stackfile"),
        ("web:\n  image: nginx\n  colour: red\n", "line 3: service 'web', key 'colour'"),
        ("web:\n  ports: ['80']\n", "line 1: service 'web': has no image"),
        ("web:\n  image: nginx\n  ports: ['eighty']\n", "key 'ports': 'eighty' is not a port"),
        ("web:\n  image: nginx\n  ports: ['1:2:3']\n", "is not a port"),
        ("web:\n  image: nginx\n  expose: ['80:80']\n", "exposed port is reachable through"),
        ("web:\n  image: nginx\n  volumes: ['/a:/b:rx']\n", "the mode is ro or rw"),
        ("web:\n  image: nginx\n  volumes: ['/a:/b:ro:x']\n", "is not a volume"),
        ("web:\n  image: nginx\n  links: [nope]\n", "'nope' is not a service of this stack"),
        ("web:\n  image: nginx\n  volumes_from: [nope]\n", "'nope' is not a service of this"),
        ("web:\n  image: nginx\n  volumes_from: ['db:x']\n", "is not service or service.stack"),
        ("web:\n  image: nginx\n  autorestart: sometimes\n", "'sometimes' is not one of no"),
        ("web:\n  image: nginx\n  autodestroy: on-failure\n", "'on-failure' is not one of"),
        ("web:\n  image: nginx\n  deployment_strategy: random\n", "'random' is not one of"),
        ("web:\n  image: nginx\n  mem_limit: lots\n", "'lots' is not a size"),
        ("web:\n  image: nginx\n  environment: [UNSET_HERE]\n",
         "UNSET_HERE takes its value from the environment, where it is not set"),
        ("web:\n  image: nginx\n  restart: always\n  autorestart: 'no'\n",
         "restart and autorestart say different things"),
        ("web:\n  image: nginx\n  cpu_shares: many\n", "line 1: service 'web', cpu_shares"),
        ("web: nginx\n", "must be a mapping of the service's keys"),
        ("- web\n", "a stackfile is a mapping"),
        ("web: [\n", "not YAML"),
        ("Web_1:\n  image: nginx\n", "service 'Web_1', name"),
    ],
)  # fmt: skip
def test_errors_name_the_service_the_key_and_the_line(text: str, words: str) -> None:
    with pytest.raises(StackfileError) as refused:
        to_spec(text, ENV)
    assert words in str(refused.value)


STACKFILE = """\
lb:
  image: dockercloud/haproxy
  links: ["web:WEB"]
  ports: ["80:80"]
  roles: [global]
  restart: always
web:
  image: dockercloud/quickstart-python
  links: [redis, "cache.other:CACHE"]
  target_num_containers: 4
  environment: {NAME: Friendly Users}
  volumes: ["/data", "/etc/app:/etc/app:ro"]
  volumes_from: [redis]
  mem_limit: 256m
  memswap_limit: -1
  expose: ["8080"]
  deployment_strategy: high_availability
  autodestroy: on-success
  tags: [web]
redis:
  image: redis
  command: redis-server --appendonly yes
"""


def test_a_stackfile_round_trips_through_the_stack_and_export() -> None:
    spec = to_spec(STACKFILE, {})
    assert [s["name"] for s in spec["services"]] == ["lb", "web", "redis"]
    again = to_spec(to_stackfile(spec), {})
    assert again == spec


def test_conversion_is_deterministic() -> None:
    assert to_spec(STACKFILE, {}) == to_spec(STACKFILE, {})


@pytest.mark.parametrize(
    ("folder", "name"),
    [("my-app", "my-app"), ("My App_2", "my-app-2"), ("1st", "st"),
     ("a" * 30, "a" * 20)],
)  # fmt: skip
def test_the_stack_is_named_after_its_folder_by_default(folder: str, name: str) -> None:
    assert stack_name(folder) == name


def test_a_folder_that_makes_no_name_asks_for_one() -> None:
    with pytest.raises(StackfileError, match="give --name"):
        stack_name("123")
