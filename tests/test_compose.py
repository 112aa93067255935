"""docker-compose.yml, the Dockerfile and .env.example, checked without docker (it does not run here).

Each check is a function returning problems ("service X: what is wrong"), so a test shows them all at
once, and the negative tests at the end prove that deliberately broken copies are refused. Nothing is
executed: commands are parsed by the real click tree, URLs by the code that will read them.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import typer.main
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from mediasrv import admission
from mediasrv.app import create_app
from mediasrv.cli.operators import worker_argv
from mediasrv.config import Settings
from mediasrv.storage import open_store
from mediasrv.storage.s3 import S3Store
from workers.celery_app import make_celery

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = ROOT / "deploy" / "nginx" / "mediasrv.conf"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS: dict[str, str] = PYPROJECT["project"]["scripts"]

Doc = dict[str, Any]
Params = dict[str, Any]

OUR_IMAGE = "mediasrv"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
LONG_RUNNING = {"always", "unless-stopped"}
# The ports third-party images listen on inside the network (what the URLs must name).
IMAGE_PORTS = {"postgres": 5432, "redis": 6379, "minio/minio": 9000}
# The image of the service each URL setting must point at.
URL_SERVICES = {"database_url": "postgres", "storage_url": "minio/minio", "broker_url": "redis"}
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
_REQUIRED_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?\?[^}]*\}")


# --- reading the files ---------------------------------------------------------------------------

# Compose interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR.
_VAR = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """What docker compose makes of a string; an unset variable without a default is an error here."""

    def one(m: re.Match[str]) -> str:
        if m["dollar"]:
            return "$"
        name, op, arg = m["name"] or m["bare"], m["op"] or "", m["arg"] or ""
        value = env.get(name)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return arg if unset else str(value)
        if op.endswith("+"):
            return "" if unset else arg
        if unset:
            raise KeyError(f"${{{name}}} is not set and has no default ({arg or 'no message'})")
        return str(value)

    return _VAR.sub(one, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    return node


def required_vars(text: str) -> set[str]:
    return {m["name"] for m in _VAR.finditer(text) if m["name"] and (m["op"] or "").endswith("?")}


def placeholder_env(text: str) -> dict[str, str]:
    """A value for every required variable, distinct and URL-safe, so mix-ups show."""
    return {name: f"{name.lower().replace('_', '-')}-value" for name in required_vars(text)}


RAW_TEXT = COMPOSE.read_text()
RAW: Doc = yaml.safe_load(RAW_TEXT)  # anchors and << merges resolved, variables not


def load(env: Mapping[str, str] | None = None) -> Doc:
    doc: Doc = interpolate_tree(RAW, {**placeholder_env(RAW_TEXT), **(env or {})})
    return doc


@pytest.fixture
def doc() -> Doc:
    return load()


def services(doc: Doc) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = doc["services"]
    return found


def ours(service: Mapping[str, Any]) -> bool:
    return "build" in service or str(service.get("image", "")).split(":")[0] == OUR_IMAGE


def image_name(service: Mapping[str, Any]) -> str:
    """The image without tag or digest: "minio/minio:RELEASE..." -> "minio/minio"."""
    image = str(service.get("image", "")).split("@")[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]


def argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command or []]


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # the short form means "started"
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def one_shots(doc: Doc) -> set[str]:
    """Services something waits to complete: they must exit, not run."""
    return {
        target
        for s in services(doc).values()
        for target, condition in depends_on(s).items()
        if condition == "service_completed_successfully"
    }


def container_port(mapping: Any) -> int:
    """ "8000", "80:8000", "127.0.0.1:80:8000/tcp" or {target: 8000} -> 8000."""
    if isinstance(mapping, dict):
        return int(mapping["target"])
    return int(str(mapping).split("/")[0].rsplit(":", 1)[-1])


def host_port(mapping: Any) -> str | None:
    if isinstance(mapping, dict):
        return str(mapping.get("published")) if mapping.get("published") else None
    parts = str(mapping).split("/")[0].split(":")
    return parts[-2] if len(parts) > 1 else None


def mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(type, source, target) of each volume entry: type "volume" (named) or "bind"."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind, source, target = entry.get("type", "volume"), str(entry.get("source", "")), entry["target"]
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:  # an anonymous volume
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield kind, source, str(target)


def healthcheck_argv(service: Mapping[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return argv(test)[1:] if not isinstance(test, str) else shlex.split(test)


def urls_in(words: list[str]) -> list[str]:
    return re.findall(r"https?://[^\s'\"]+", " ".join(words))


# --- the command-line tree of the package ----------------------------------------------------------


def root_command(program: str) -> Any:
    """The click command behind a [project.scripts] entry: the module's one Typer not nested in another.

    Typer vendors its own click, whose classes are private: hence Any and duck typing below.
    """
    entry = SCRIPTS.get(program)
    if entry is None:
        return None
    module = importlib.import_module(entry.split(":")[0])
    apps = [v for v in vars(module).values() if isinstance(v, typer.Typer)]
    nested = {id(g.typer_instance) for a in apps for g in a.registered_groups}
    roots = [a for a in apps if id(a) not in nested]
    assert len(roots) == 1, f"{entry}: expected one root Typer app, found {len(roots)}"
    return typer.main.get_command(roots[0])


def parse_cli(words: list[str], where: str) -> tuple[list[str], Params | None]:
    """Problems of one `program sub... --options` line, and its parsed parameters when there are none."""
    if not words:
        return [f"{where}: no command"], None
    command = root_command(words[0])
    if command is None:
        return [f"{where}: {words[0]!r} is not a [project.scripts] entry ({sorted(SCRIPTS)})"], None
    path, rest = [words[0]], list(words[1:])
    while hasattr(command, "commands"):  # a group
        if not rest or rest[0].startswith("-"):
            return [f"{where}: `{' '.join(path)}` needs a subcommand ({sorted(command.commands)})"], None
        sub = command.commands.get(rest[0])
        if sub is None:
            return [
                f"{where}: `{' '.join(path)}` has no subcommand {rest[0]!r} ({sorted(command.commands)})"
            ], None
        path.append(rest.pop(0))
        command = sub
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
    unknown = [w.split("=")[0] for w in rest if w.startswith("--") and w.split("=")[0] not in known]
    if unknown:
        return [
            f"{where}: `{' '.join(path)}` has no option {u} (has: {sorted(known)})" for u in unknown
        ], None
    try:  # parses and converts the values, never invokes the callback
        ctx = command.make_context(" ".join(path), rest)
    except typer.TyperException as exc:  # click's usage and bad-parameter errors
        message = getattr(exc, "format_message", exc.__str__)()
        return [f"{where}: `{' '.join(words)}`: {message}"], None
    return [], dict(ctx.params)


def commands(doc: Doc) -> dict[str, tuple[list[str], Params | None]]:
    """Each of our services' command line (the Dockerfile's CMD when it has none) and its problems."""
    return {
        name: parse_cli(argv(s["command"]) if "command" in s else dockerfile_cmd(), f"service {name}")
        for name, s in services(doc).items()
        if ours(s)
    }


def worker_services(doc: Doc) -> dict[str, Params]:
    out: dict[str, Params] = {}
    for name, s in services(doc).items():
        if ours(s) and argv(s.get("command"))[1:2] == ["worker"]:
            problems, params = parse_cli(argv(s["command"]), name)
            assert not problems, problems
            assert params is not None
            out[name] = params
    return out


def api_port(doc: Doc) -> int:
    _, params = parse_cli(argv(services(doc)["api"]["command"]), "api")
    assert params is not None
    return int(params["port"] or Settings.model_fields["port"].default)


# --- the Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions(text: str | None = None) -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text() if text is None else text
    joined = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    )
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in joined.splitlines() if ln.strip()]


def dockerfile_cmd() -> list[str]:
    cmds = [arg for op, arg in dockerfile_instructions() if op == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    parsed: list[str] = json.loads(cmds[-1])  # the exec form: no shell between docker and the program
    return parsed


def dockerfile_paths(text: str | None = None) -> tuple[set[str], set[str], dict[str, bool]]:
    """(copied sources, directories made with mkdir -p, chowned paths -> recursively) of the Dockerfile."""
    copied: set[str] = set()
    made: set[str] = set()
    owned: dict[str, bool] = {}
    for op, arg in dockerfile_instructions(text):
        if op == "COPY":
            words = [w for w in shlex.split(arg) if not w.startswith("--")]
            copied |= {w.rstrip("/") for w in words[:-1]}
        if op == "RUN":
            for step in re.split(r"&&|;", arg):
                words = shlex.split(step)
                if words[:2] == ["mkdir", "-p"]:
                    made |= set(words[2:])
                if words[:1] == ["chown"]:
                    owned |= dict.fromkeys((w for w in words if w.startswith("/")), "-R" in words)
    return copied, made, owned


def under(path: str, root: str) -> bool:
    return PurePosixPath(path) == PurePosixPath(root) or PurePosixPath(root) in PurePosixPath(path).parents


# --- the nginx configuration -----------------------------------------------------------------------


def nginx_conf() -> str:
    return re.sub(r"#[^\n]*", "", NGINX_CONF.read_text())


def nginx_blocks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The statements of `text` outside blocks, and its `head { body }` blocks (quotes respected)."""
    outside, blocks = [], []
    depth = statement = body = 0
    head, i = "", 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":  # a quoted string (a regex, a JSON body): skip to its closing quote
            i += 1
            while text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif ch == ";" and depth == 0:
            outside.append(text[statement : i + 1])
            statement = i + 1
        elif ch == "{":
            if depth == 0:
                head, body = text[statement:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                blocks.append((head, text[body:i]))
                statement = i + 1
        i += 1
    return "".join(outside), blocks


_NGINX_SIZE = re.compile(r"(\d+)([kKmMgG]?)")


def nginx_body_limits(conf: str) -> Callable[[str], float]:
    """What `client_max_body_size` nginx applies to a request for a path (math.inf for 0, no limit),
    choosing the location as nginx does: an exact match; else the longest prefix, at once if it is
    ^~; else the first regex, in order, that matches; else that longest prefix."""

    def size(statements: str, default: float) -> float:
        found = re.findall(r"\bclient_max_body_size\s+(\S+)\s*;", statements + ";")
        if not found:
            return default
        n, unit = _NGINX_SIZE.fullmatch(found[-1]).groups()  # type: ignore[union-attr]
        value = int(n) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit.lower()]
        return math.inf if value == 0 else value

    http, blocks = nginx_blocks(conf)
    server_statements, server_blocks = nginx_blocks(next(b for h, b in blocks if h == "server"))
    default = size(server_statements, size(http, 2**20))  # nginx's own default: 1m
    exact, prefixes, regexes = {}, [], []
    for head, body in server_blocks:
        words = shlex.split(head)
        if words[0] != "location" or words[1].startswith("@"):
            continue
        limit = size(nginx_blocks(body)[0], default)
        if words[1] == "=":
            exact[words[2]] = limit
        elif words[1] in ("~", "~*"):
            flags = re.IGNORECASE if words[1] == "~*" else 0
            regexes.append((re.compile(words[2].replace("(?<", "(?P<"), flags), limit))
        else:
            final = words[1] == "^~"
            prefixes.append((words[-1], final, limit))

    def limit(path: str) -> float:
        if path in exact:
            return exact[path]
        matching = [p for p in prefixes if path.startswith(p[0])]
        longest = max(matching, key=lambda p: len(p[0]), default=None)
        if longest is not None and longest[1]:
            return longest[2]
        for regex, regex_limit in regexes:
            if regex.search(path):
                return regex_limit
        return longest[2] if longest is not None else default

    return limit


def check_body_limits(conf: str) -> list[str]:
    """nginx refuses no body the app would take (its refusal says what to do; nginx's cannot), and
    lets a large body through only where the app takes files: no limit where the cap is the
    operator's MAX_UPLOAD_BYTES, else at most twice the app's cap (or 2 MiB). nginx's limit is per
    path, so a path's largest cap (of any method) is the one compared."""
    settings = Settings(data_dir=Path("unused"))  # the defaults a deployment starts from
    bigger = Settings(data_dir=Path("unused"), max_upload_bytes=2 * settings.max_upload_bytes)
    caps: dict[str, tuple[int, bool]] = {}
    for _, route in admission.routes(create_app(settings)):
        assert route.path is not None
        cap, upload = caps.get(route.path, (0, False))
        # An upload's cap follows MAX_UPLOAD_BYTES: the operator sets it, in the app alone.
        caps[route.path] = (
            max(cap, route.limit(settings)),
            upload or route.limit(bigger) != route.limit(settings),
        )
    limit, problems = nginx_body_limits(conf), []
    for template, (cap, upload) in caps.items():
        nginx = limit(re.sub(r"\{[^}]+\}", "1", template))
        where, shown = (
            f"{NGINX_CONF.name}: {template}",
            "no limit" if nginx == math.inf else f"{nginx:.0f} bytes",
        )
        if upload and nginx != math.inf:
            problems.append(f"{where}: client_max_body_size is {shown}; uploads need 0 (MAX_UPLOAD_BYTES)")
        elif nginx < cap:
            problems.append(f"{where}: client_max_body_size is {shown}, under the app's {cap} bytes")
        elif not upload and nginx > max(2 * cap, 2 * 2**20):
            problems.append(f"{where}: client_max_body_size is {shown}, for a route taking {cap} bytes")
    return problems


# --- the checks ------------------------------------------------------------------------------------


def check_dependencies(doc: Doc) -> list[str]:
    problems, all_services = [], services(doc)
    graph: dict[str, set[str]] = {}
    for name, s in all_services.items():
        graph[name] = set(depends_on(s))
        for target, condition in depends_on(s).items():
            where = f"service {name}: depends_on {target}"
            if target not in all_services:
                problems.append(f"{where}: no such service")
                continue
            if condition not in CONDITIONS:
                problems.append(f"{where}: unknown condition {condition!r} (one of {sorted(CONDITIONS)})")
            if condition == "service_healthy" and not all_services[target].get("healthcheck"):
                problems.append(f"{where}: service_healthy, but {target} has no healthcheck")
            restart = str(all_services[target].get("restart", "no"))
            if condition == "service_completed_successfully" and restart in LONG_RUNNING:
                problems.append(f"{where}: waits for it to complete, but it has restart: {restart}")
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        problems.append(f"depends_on cycle: {exc.args[1]}")
    return problems


def check_lifecycle(doc: Doc) -> list[str]:
    """Long-running services restart and have a healthcheck; one-shots publish nothing."""
    problems, done = [], one_shots(doc)
    for name, s in services(doc).items():
        if name in done:
            if s.get("ports"):
                problems.append(f"service {name}: a one-shot job publishes ports")
            continue
        if str(s.get("restart", "no")) not in LONG_RUNNING:
            problems.append(f"service {name}: long-running but restart is {s.get('restart', 'no')!r}")
        check = s.get("healthcheck") or {}
        if not check.get("test") or check.get("disable"):
            problems.append(f"service {name}: long-running without a healthcheck")
    return problems


def check_images(doc: Doc) -> list[str]:
    problems = []
    for name, s in services(doc).items():
        image = str(s.get("image", ""))
        if ours(s):
            if "build" not in s:
                problems.append(f"service {name}: uses image {image} but does not build it")
            continue
        tag = image.rpartition("/")[2].partition(":")[2]
        if not image:
            problems.append(f"service {name}: no image")
        elif "@sha256:" not in image and tag in ("", "latest"):
            problems.append(f"service {name}: image {image!r} is not pinned to a version tag")
    return problems


def check_commands(doc: Doc) -> list[str]:
    return [p for problems, _ in commands(doc).values() for p in problems]


def _env_blocks(node: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """(where, name, value) of every MEDIASRV_* key anywhere: services, x- anchors, environment lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).startswith("MEDIASRV_"):
                yield where, str(key), value
            yield from _env_blocks(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and re.match(r"MEDIASRV_\w*=", item):
                key, value = item.split("=", 1)
                yield where, key, value
            yield from _env_blocks(item, where)


def check_settings(doc: Doc) -> list[str]:
    """Every MEDIASRV_* variable is a setting and its value parses as one."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    problems = []
    for where, key, value in _env_blocks(doc, ""):
        field = key.removeprefix(prefix).lower()
        if field not in Settings.model_fields:
            problems.append(f"{where}: {key} is not a setting of mediasrv.config.Settings")
            continue
        try:
            Settings.model_validate({field: value})
        except ValidationError as exc:
            problems.append(f"{where}: {key}={value!r} is not a valid {field}: {exc.errors()[0]['msg']}")
    return problems


def _url_target(doc: Doc, url: str, image: str, where: str) -> list[str]:
    """The URL's host is the service running `image`, at the port that image listens on."""
    parts = urlsplit(url)
    target = services(doc).get(parts.hostname or "")
    if target is None:
        return [f"{where}: host {parts.hostname!r} is not a service"]
    if image_name(target) != image:
        return [f"{where}: host {parts.hostname} runs {image_name(target)!r}, not {image!r}"]
    if parts.port != IMAGE_PORTS[image]:
        return [f"{where}: port {parts.port} but {parts.hostname} listens on {IMAGE_PORTS[image]}"]
    return []


def check_urls(doc: Doc) -> list[str]:
    """Database, storage and broker URLs: accepted by the code, and naming the services that serve them."""
    problems = []
    for name, s in services(doc).items():
        if not ours(s):
            continue
        env, where = environment(s), f"service {name}"
        urls = {f: env.get(f"MEDIASRV_{f.upper()}", "") for f in URL_SERVICES}
        for field, url in urls.items():
            if not url:
                problems.append(f"{where}: MEDIASRV_{field.upper()} is not set (the default is single-host)")
                continue
            problems += _url_target(doc, url, URL_SERVICES[field], f"{where}: MEDIASRV_{field.upper()}")
        if db_text := urls["database_url"]:
            db_url = make_url(db_text)
            if db_url.drivername != "postgresql+psycopg":
                problems.append(f"{where}: database driver {db_url.drivername!r}, not postgresql+psycopg")
            db_url.get_dialect()  # the driver is installed with the package
            pg = environment(services(doc).get(db_url.host or "", {}))
            for part, var in (("username", "POSTGRES_USER"), ("password", "POSTGRES_PASSWORD")):
                if getattr(db_url, part) != pg.get(var):
                    problems.append(f"{where}: database URL {part} is not {db_url.host}'s {var}")
            if db_url.database != pg.get("POSTGRES_DB", pg.get("POSTGRES_USER")):
                problems.append(f"{where}: database {db_url.database!r} is not the one {db_url.host} creates")
        if storage_url := urls["storage_url"]:
            try:
                store = open_store(storage_url)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
            else:
                if not isinstance(store, S3Store) or not store.url.startswith("http://"):
                    problems.append(
                        f"{where}: storage must be s3://...?secure=false (MinIO here speaks HTTP)"
                    )
                minio = environment(services(doc).get(urlsplit(storage_url).hostname or "", {}))
                parts = urlsplit(storage_url)
                if (parts.username, parts.password) != (
                    minio.get("MINIO_ROOT_USER"),
                    minio.get("MINIO_ROOT_PASSWORD"),
                ):
                    problems.append(f"{where}: storage credentials are not MinIO's root user")
                created = buckets_created(doc)
                if isinstance(store, S3Store) and store.bucket not in created:
                    problems.append(f"{where}: bucket {store.bucket!r}, but minio-init creates {created}")
        if (broker := urls["broker_url"]) and urlsplit(broker).scheme != "redis":
            problems.append(f"{where}: broker {urlsplit(broker).scheme}://, not redis://")
    return problems


def buckets_created(doc: Doc) -> set[str]:
    """Buckets `mc mb` makes in minio-init, whose `mc alias set` must point at a MinIO service."""
    init = services(doc).get("minio-init")
    if init is None:
        return set()
    script = " ".join(argv(init.get("entrypoint")) + argv(init.get("command")))
    aliases = dict(re.findall(r"mc alias set (\S+) (\S+)", script))
    return {
        bucket
        for alias, bucket in re.findall(r"mc mb (?:--ignore-existing |-p )*(\S+?)/(\S+)", script)
        if alias in aliases and not _url_target(doc, aliases[alias], "minio/minio", "minio-init")
    }


def check_queues(doc: Doc) -> list[str]:
    """Workers consume exactly the queues the Celery app routes to; one beat, one index writer."""
    app = make_celery(Settings())
    routed = {r["queue"] for r in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    workers = worker_services(doc)
    consumed: dict[str, list[str]] = {}
    problems = []
    for name, params in workers.items():
        for queue in str(params["queues"]).split(","):
            consumed.setdefault(queue, []).append(name)
            if queue not in routed:
                problems.append(f"service {name}: queue {queue!r} is not routed to ({sorted(routed)})")
    problems += [f"queue {q!r}: no worker consumes it" for q in sorted(routed - set(consumed))]
    beats = [name for name, params in workers.items() if params["beat"]]
    if len(beats) != 1:
        problems.append(f"exactly one worker must run beat (the sweep), these do: {beats}")
    for name in consumed.get("index", []):
        if len(consumed["index"]) > 1 or workers[name]["concurrency"] != 1:
            problems.append(f"service {name}: the index queue needs one worker with concurrency 1")
    return problems


def check_index_volume(doc: Doc) -> list[str]:
    """The API reads the search index the index worker writes: one volume at DATA_DIR/index in both."""
    problems, volumes = [], {}
    readers = ["api", *[n for n, p in worker_services(doc).items() if "index" in str(p["queues"]).split(",")]]
    for name in readers:
        s = services(doc)[name]
        index_dir = str(PurePosixPath(environment(s).get("MEDIASRV_DATA_DIR", "var")) / "index")
        found = [source for kind, source, target in mounts(s) if kind == "volume" and target == index_dir]
        if not found:
            problems.append(f"service {name}: no named volume at {index_dir} (the search index)")
        volumes[name] = found[0] if found else None
    if len(set(volumes.values())) > 1:
        problems.append(f"the search index is on different volumes: {volumes}")
    return problems


def check_ports(doc: Doc) -> list[str]:
    all_services, problems = services(doc), []
    api, port = all_services["api"], api_port(doc)
    published = [container_port(p) for p in api.get("ports", [])]
    if published and published != [port]:
        problems.append(f"service api: serves on {port} but ports map container port(s) {published}")
    health = [urlsplit(u).port or 80 for u in urls_in(healthcheck_argv(api))]
    if health != [port]:
        problems.append(f"service api: serves on {port} but its healthcheck asks port(s) {health}")
    expose = [
        int(a.split("/")[0]) for op, arg in dockerfile_instructions() if op == "EXPOSE" for a in arg.split()
    ]
    if expose != [Settings.model_fields["port"].default]:
        problems.append(f"Dockerfile: EXPOSE {expose}, but `mediasrv serve` defaults to another port")
    for name, s in all_services.items():
        if name in one_shots(doc) or ours(s):
            continue
        for url in urls_in(healthcheck_argv(s)):
            if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
                problems.append(f"service {name}: healthcheck {url} does not ask the container itself")
    return problems


def check_nginx(doc: Doc, conf: str) -> list[str]:
    nginx, problems = services(doc).get("nginx"), []
    if nginx is None:
        return ["no nginx service in front of /hls"]
    for host, port in re.findall(r"\bserver\s+([\w.-]+):(\d+)\s*;", conf):
        if host != "api" or int(port) != api_port(doc):
            problems.append(
                f"{NGINX_CONF.name}: upstream server {host}:{port}, but the api serves api:{api_port(doc)}"
            )
    listen = [int(p) for p in re.findall(r"\blisten\s+(?:[\d.]+:)?(\d+)", conf)]
    published = [container_port(p) for p in nginx.get("ports", [])]
    if not published or set(published) != set(listen):
        problems.append(
            f"service nginx: publishes container port(s) {published}, the conf listens on {listen}"
        )
    health = [urlsplit(u).port or 80 for u in urls_in(healthcheck_argv(nginx))]
    if not health or set(health) - set(listen):
        problems.append(f"service nginx: healthcheck asks port(s) {health}, the conf listens on {listen}")
    named = [target for kind, _, target in mounts(nginx) if kind == "volume"]
    for cache in re.findall(r"\bproxy_cache_path\s+(\S+)", conf):
        if not any(under(cache, target) for target in named):
            problems.append(f"service nginx: proxy_cache_path {cache} is on no named volume ({named})")
    if not any(
        target.startswith("/etc/nginx/conf.d/") and kind == "bind" for kind, _, target in mounts(nginx)
    ):
        problems.append("service nginx: does not mount the mediasrv conf into /etc/nginx/conf.d/")
    if not any(d == "api" and c == "service_healthy" for d, c in depends_on(nginx).items()):
        problems.append("service nginx: does not wait for the api to be healthy")
    return problems


def check_volumes(doc: Doc) -> list[str]:
    declared = set(doc.get("volumes") or {})
    used: dict[str, list[str]] = {}
    problems = []
    for name, s in services(doc).items():
        for kind, source, _ in mounts(s):
            if kind == "volume":
                used.setdefault(source, []).append(name)
    problems += [
        f"service {', '.join(users)}: volume {v!r} is not declared"
        for v, users in used.items()
        if v not in declared
    ]
    problems += [f"volume {v!r} is declared but no service uses it" for v in sorted(declared - set(used))]
    # A new named volume takes its owner from the image's directory; the app runs as a non-root user.
    _, made, owned = dockerfile_paths()
    for name, s in services(doc).items():
        for kind, source, target in mounts(s) if ours(s) else ():
            if kind == "volume" and not (
                any(under(m, target) for m in made)
                and any(under(target, o) if deep else target == o for o, deep in owned.items())
            ):
                problems.append(
                    f"service {name}: volume {source} at {target}: the Dockerfile does not mkdir and chown it"
                )
    return problems


def check_scaling(doc: Doc) -> list[str]:
    """A service the header says to --scale may not pin a container name or a host port."""
    problems = []
    for name in re.findall(r"--scale ([\w-]+)=", RAW_TEXT):
        s = services(doc).get(name)
        if s is None:
            problems.append(f"the header says --scale {name}, which is not a service")
        elif s.get("container_name") or any(host_port(p) for p in s.get("ports", [])):
            problems.append(f"service {name}: scalable, but has a container_name or a fixed host port")
    return problems


def check_worker_healthcheck(doc: Doc, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Worker healthchecks ping the node name `mediasrv worker` gives Celery (as PID 1 of its container)."""
    monkeypatch.setattr(os, "getpid", lambda: 1)  # the module-level os that worker_argv uses
    problems = []
    for name, params in worker_services(doc).items():
        argv_ = worker_argv(Settings(), queues=params["queues"], concurrency=1, beat=False)
        node = argv_[argv_.index("-n") + 1].replace("%h", "$HOSTNAME")
        words = healthcheck_argv(services(doc)[name])
        text = " ".join(words)
        if "inspect ping" not in text or f"-d {node}" not in text:
            problems.append(f"service {name}: healthcheck {text!r} does not ping its own node {node}")
        test = services(doc)[name]["healthcheck"]["test"]
        if "$HOSTNAME" in text and not (isinstance(test, list) and test[0] == "CMD-SHELL"):
            problems.append(f"service {name}: $HOSTNAME in a healthcheck needs CMD-SHELL")
    return problems


def _strings(node: Any, where: str) -> Iterator[tuple[str, str, str]]:
    """(where, name, value) of every string setting: mapping entries and KEY=value list items."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield where, str(key), value
            yield from _strings(value, f"{where}/{key}" if where else str(key))
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and re.match(r"\w+=", item):
                key, value = item.split("=", 1)
                yield where, key, value
            yield from _strings(item, where)


def check_secrets(raw: Doc) -> list[str]:
    """Secrets only as ${VAR:?...} references (checked on the file as written, before interpolation)."""
    problems = []
    for where, key, value in _strings(raw, ""):
        if _SECRET_NAME.search(key) and not _REQUIRED_REF.fullmatch(value):
            problems.append(f"{where}: {key} must be a ${{VAR:?...}} reference, not {value!r}")
        for userinfo in re.findall(r"://([^/?#]*)@", value):
            _, _, password = _REQUIRED_REF.sub("", userinfo).partition(":")
            if password:
                problems.append(f"{where}: {key} has a literal password in its URL")
    return problems


# --- the tests -------------------------------------------------------------------------------------


def test_parses_with_every_required_variable_given() -> None:
    assert set(services(load())) >= {"api", "worker-transcode", "nginx", "minio-init", "migrate"}
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):  # and refuses to start without them
        interpolate_tree(
            RAW, {k: v for k, v in placeholder_env(RAW_TEXT).items() if k != "POSTGRES_PASSWORD"}
        )


@pytest.mark.parametrize(
    "check",
    [
        check_dependencies,
        check_lifecycle,
        check_images,
        check_commands,
        check_settings,
        check_urls,
        check_queues,
        check_index_volume,
        check_ports,
        check_volumes,
        check_scaling,
    ],
)
def test_compose(doc: Doc, check: Callable[[Doc], list[str]]) -> None:
    assert check(doc) == []


def test_migrate_runs_before_the_api_and_workers(doc: Doc) -> None:
    words = argv(services(doc)["migrate"]["command"])
    assert words[1:3] == ["db", "upgrade"], words
    for name, s in services(doc).items():
        if ours(s) and name != "migrate":
            assert depends_on(s).get("migrate") == "service_completed_successfully", name
            assert depends_on(s).get("minio-init") == "service_completed_successfully", name


def test_bucket_is_named_in_one_place() -> None:
    for bucket in ("mediasrv", "courseware"):
        doc = load({"MINIO_BUCKET": bucket} if bucket != "mediasrv" else {})
        assert buckets_created(doc) == {bucket}
        assert check_urls(doc) == []


def test_nginx(doc: Doc) -> None:
    assert check_nginx(doc, nginx_conf()) == []


def test_bind_mounts_exist(doc: Doc) -> None:
    missing = {
        (ROOT / source).resolve()
        for s in services(doc).values()
        for kind, source, _ in mounts(s)
        if kind == "bind" and not (ROOT / source).exists()
    }
    assert missing == set(), f"bind-mounted files missing: {sorted(map(str, missing))}"


def test_worker_healthchecks(doc: Doc, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_worker_healthcheck(doc, monkeypatch) == []
    probe = argv(services(doc)["worker-default"]["healthcheck"]["test"][1])[0]
    assert probe == "celery"  # installed with the package, on the image's PATH


def test_secrets_are_references_only() -> None:
    assert check_secrets(RAW) == []


def test_env_example_names_every_required_variable_with_placeholders() -> None:
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required_vars(RAW_TEXT) <= set(example), required_vars(RAW_TEXT) - set(example)
    assert set(example.values()) <= {"", "change-me"}, "placeholders only in .env.example"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_dockerfile_copies_the_package_and_runs_a_real_command() -> None:
    copied, _, _ = dockerfile_paths()
    includes = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in includes}
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"], *packages}
    for op, arg in dockerfile_instructions():
        if op == "RUN":
            needed |= set(re.findall(r"(?:-c|-r|--constraint)\s+(\S+)", arg))
    assert needed <= copied, f"Dockerfile does not COPY {sorted(needed - copied)}"
    assert all((ROOT / p).exists() for p in needed)
    problems, _ = parse_cli(dockerfile_cmd(), "Dockerfile CMD")
    assert problems == []
    users = [arg for op, arg in dockerfile_instructions() if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image should not run as root"


# --- the checks fail on real mistakes --------------------------------------------------------------


def _break(doc: Doc, path: str, value: Any) -> Doc:
    """A copy of doc with services/<path> set (or deleted, for value None)."""
    broken = copy.deepcopy(doc)
    *parents, last = path.split("/")
    node = broken["services"]
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return broken


@pytest.mark.parametrize(
    ("check", "path", "value", "expected"),
    [
        (
            check_dependencies,
            "api/depends_on/cache",
            {"condition": "service_started"},
            "api: depends_on cache: no such",
        ),
        (check_dependencies, "worker-default/healthcheck", None, None),  # nobody waits for it: fine
        (check_dependencies, "migrate/restart", "unless-stopped", "waits for it to complete"),
        (check_dependencies, "minio/healthcheck", None, "minio has no healthcheck"),
        (check_lifecycle, "worker-transcode/healthcheck", None, "worker-transcode: long-running without"),
        (check_images, "redis/image", "redis", "service redis: image 'redis' is not pinned"),
        (check_images, "minio-init/image", "minio/mc:latest", "not pinned"),
        (check_commands, "api/command", ["mediasrv", "serve", "--prot", "8000"], "has no option --prot"),
        (check_commands, "migrate/command", ["mediasrv", "db", "upgrad"], "no subcommand 'upgrad'"),
        (check_commands, "worker-default/command", ["mediasrv", "worker", "--concurrency", "two"], "two"),
        (check_commands, "api/command", ["gunicorn", "mediasrv.app"], "not a [project.scripts] entry"),
        (check_settings, "api/environment/MEDIASRV_LOG_JSONS", "true", "MEDIASRV_LOG_JSONS is not a setting"),
        (check_settings, "api/environment/MEDIASRV_LOG_JSON", "sure", "not a valid log_json"),
        (
            check_urls,
            "api/environment/MEDIASRV_BROKER_URL",
            "redis://cache:6379/0",
            "'cache' is not a service",
        ),
        (check_urls, "api/environment/MEDIASRV_STORAGE_URL", "s3://a:b@minio:9000/other", "secure=false"),
        (
            check_urls,
            "api/environment/MEDIASRV_DATABASE_URL",
            "postgresql://x:y@postgres:5432/mediasrv",
            "driver",
        ),
        (
            check_urls,
            "migrate/environment/MEDIASRV_DATABASE_URL",
            "postgresql+psycopg://x:y@postgres:5433/z",
            "5432",
        ),
        (
            check_queues,
            "worker-transcode/command",
            ["mediasrv", "worker", "--queues", "transcodes"],
            "transcodes",
        ),
        (check_queues, "worker-transcode/command", ["mediasrv", "worker", "--queues", "transcode"], "beat"),
        (
            check_index_volume,
            "worker-default/volumes",
            ["default-scratch:/data"],
            "no named volume at /data/index",
        ),
        (check_ports, "api/ports", ["8000:8080"], "container port(s) [8080]"),
        (
            check_ports,
            "api/command",
            ["mediasrv", "serve", "--port", "9000"],
            "healthcheck asks port(s) [8000]",
        ),
        (check_volumes, "api/volumes", ["api-spool:/data", "index:/data/index"], "'index' is not declared"),
        (
            check_volumes,
            "api/volumes",
            ["api-spool:/data", "search-index:/srv/index"],
            "does not mkdir and chown",
        ),
        (check_scaling, "worker-transcode/container_name", "transcoder", "scalable"),
    ],
)
def test_checks_refuse_broken_copies(
    doc: Doc, check: Callable[[Doc], list[str]], path: str, value: Any, expected: str | None
) -> None:
    problems = check(_break(doc, path, value))
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_bucket_mismatch_is_refused(doc: Doc) -> None:
    broken = _break(
        doc, "minio-init/command", ["mc alias set minio http://minio:9000 u p && mc mb minio/other"]
    )
    assert any("minio-init creates {'other'}" in p for p in check_urls(broken))


def test_nginx_checks_refuse_a_mismatched_conf(doc: Doc) -> None:
    conf = (
        "proxy_cache_path /srv/cache keys_zone=z:1m; upstream u { server api:8080; } server { listen 8080; }"
    )
    problems = check_nginx(doc, conf)
    for expected in (
        "upstream server api:8080",
        "the conf listens on [8080]",
        "/srv/cache is on no named volume",
    ):
        assert any(expected in p for p in problems), (expected, problems)


def test_nginx_body_limits_follow_the_app(doc: Doc) -> None:
    assert check_body_limits(nginx_conf()) == []
    limit = nginx_body_limits(nginx_conf())
    assert limit("/api/v1/assets") == limit("/api/v1/uploads/0af3") == math.inf
    assert limit("/api/v1/programmes") == limit("/auth/login") == 2 * 2**20
    assert limit("/api/v1/sites/7/sessions/s1/photos") == 16 * 2**20


def test_nginx_body_limit_checks_refuse_a_conf_that_lets_everything_through() -> None:
    open_everywhere = nginx_conf().replace("client_max_body_size 2m;", "client_max_body_size 0;")
    problems = check_body_limits(open_everywhere)
    assert any("/auth/login: client_max_body_size is no limit" in p for p in problems), problems
    no_photo_location = re.sub(r"client_max_body_size 16m;", "", nginx_conf())
    problems = check_body_limits(no_photo_location)
    assert any("/photos: client_max_body_size is 2097152 bytes, under the app's" in p for p in problems)
    capped_uploads = nginx_conf().replace("client_max_body_size 0;", "client_max_body_size 20g;")
    assert any("/api/v1/assets: " in p and "need 0" in p for p in check_body_limits(capped_uploads))


def test_literal_secrets_are_refused() -> None:
    broken = copy.deepcopy(RAW)
    broken["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
    broken["x-mediasrv-env"]["MEDIASRV_DATABASE_URL"] = "postgresql+psycopg://mediasrv:hunter2@postgres/m"
    problems = check_secrets(broken)
    assert any("postgres/environment: POSTGRES_PASSWORD must be" in p for p in problems), problems
    assert any("literal password in its URL" in p for p in problems), problems
