"""The daemon's configuration: one TOML file validated by pydantic.

Rules:
- Unknown keys are errors, never ignored: a misspelt ``ring_timout_s`` silently falling back to a
  default is how call centres end up with 60-second rings.
- An error names the field path (``queues[2].strategy``) and what was expected.
- Secrets (ESL passwords, API tokens, webhook secrets) may be written as ``env:NAME`` or ``${NAME}``
  and are resolved from the environment at load time; they are held as ``SecretStr`` and printed
  masked by ``ctilink check-config``.
- Queues, agents and the engine's knobs are the core's own models (:mod:`ctilink.core.config`),
  outbound campaigns (``[[campaigns]]``) the dialer's (:class:`~ctilink.dialer.campaign.CampaignConfig`):
  this module only adds the daemon's edges (nodes, store, HTTP, metrics, logging) and the
  cross-checks between sections (:func:`cross_field_problems`, pure, inside :func:`parse_config`,
  so ``run``, ``check-config`` and every reload refuse the same things): a campaign's queue and
  agents must be configured; empty or unusable secrets, a token held twice, a malformed webhook
  allowlist entry, two nodes or webhook endpoints with one name, and an API listening on the
  network with no token unless ``api.allow_unauthenticated_network`` says that is meant.
- ``ctilink run`` and ``check-config`` also run :func:`ctilink.config_checks.check_for_run`: the
  engine built as the daemon builds it, and every value that reaches FreeSWITCH rendered once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from ctilink.core.config import AgentProfile, EngineConfig, QueueConfig
from ctilink.dialer.campaign import CampaignConfig
from ctilink.values import dial_template_problem, renderable_text

_ENV_REF = re.compile(r"^(?:env:([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\})$")
_LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
# Looks like an address rather than a name: only digits and dots, or an IPv6 colon.
_ADDRESS_LIKE = re.compile(r"[0-9.]+|.*:.*")


class ConfigError(ValueError):
    """The configuration is invalid; ``errors`` holds ``(path, message)`` pairs."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {path}: {message}" for path, message in errors)
        super().__init__(f"invalid configuration {source}:\n{lines}")


def _resolve_secret(value: object) -> object:
    if not isinstance(value, str):
        return value
    match = _ENV_REF.match(value)
    if match is None:
        return value
    name = match.group(1) or match.group(2)
    if name not in os.environ:
        raise ValueError(f"environment variable {name} is not set")
    if not os.environ[name].strip():
        # Set but empty is a deployment mistake (an unexpanded secret store, `NAME=` in a unit
        # file), never a secret: say so here, where the variable's name is still known.
        raise ValueError(f"environment variable {name} is empty")
    return os.environ[name]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(BaseModel):
    """``host:port`` for a listening socket."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Listen:
        match = _LISTEN.match(value)
        if match is None:
            raise ValueError(f"expected host:port, got {value!r}")
        port = int(match.group("port"))
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} out of range 0..65535")
        return cls(host=match.group("host").strip("[]"), port=port)


class NodeConfig(_Model):
    """One FreeSWITCH node reached over its event socket."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    host: str = "127.0.0.1"
    port: int = Field(default=8021, ge=1, le=65535)
    password: SecretStr
    event_format: Literal["json", "plain"] = "json"
    heartbeat_timeout_s: float = Field(default=60.0, gt=0)
    buffer_size: int = Field(default=100_000, ge=100)

    @field_validator("password", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        return _resolve_secret(value)


class HttpConfig(_Model):
    """The HTTP listener (control API, agent event stream, queue view)."""

    listen: str = "127.0.0.1:8080"
    enabled: bool = True

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        Listen.parse(value)
        return value


class MetricsConfig(_Model):
    """Prometheus exposition and KPI options."""

    listen: str = "127.0.0.1:9464"
    enabled: bool = True
    short_abandon_s: float = Field(default=20.0, ge=0)
    window_s: float = Field(default=900.0, gt=0)
    per_agent: bool = False

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        Listen.parse(value)
        return value


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and ``check-config``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class StoreConfig(_Model):
    """The store: the embedded SQLite file (the default) or a Redis server / Sentinel service.

    ``url`` may hold a password (``redis://:secret@host:6379/0``, or ``env:NAME``): it is kept as a
    secret and dumped with the password masked.
    """

    engine: Literal["sqlite", "redis"] = "sqlite"
    path: str = "ctilink.db"
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    prefix: str = "ctilink:"
    sentinels: list[str] = Field(default_factory=list)  # "host:port" of each Sentinel; empty: use url
    service_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("url", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        return _resolve_secret(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        from urllib.parse import urlsplit

        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @field_serializer("url")
    def _masked(self, value: SecretStr) -> str:
        return masked_url(value.get_secret_value())

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        from ctilink.store.checks import check_prefix

        return check_prefix(value)

    @field_validator("sentinels")
    @classmethod
    def _sentinels(cls, value: list[str]) -> list[str]:
        for item in value:
            Listen.parse(item)
        return value

    @model_validator(mode="after")
    def _sentinel_service(self) -> StoreConfig:
        if bool(self.sentinels) != (self.service_name is not None):
            raise ValueError("sentinels and service_name go together: give both or neither")
        return self

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``sentinels`` as (host, port) pairs."""
        return [(a.host, a.port) for a in map(Listen.parse, self.sentinels)]


class LoggingConfig(_Model):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"
    mask_numbers: bool = False


class ApiToken(_Model):
    """One bearer token of the HTTP API and who holds it.

    ``agent``: acts only on ``agent_id``. ``supervisor``: views and acts on ``queues`` (None: every
    queue) and on the agents of ``agents`` (its team; None: every agent). ``admin``: everything.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    token: SecretStr
    role: Literal["agent", "supervisor", "admin"]
    agent_id: str | None = None
    queues: list[str] | None = None
    agents: list[str] | None = None

    @field_validator("token", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        return _resolve_secret(value)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("a token must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _role_fields(self) -> ApiToken:
        if self.role == "agent" and not self.agent_id:
            raise ValueError("an agent token needs agent_id")
        if self.role != "agent" and self.agent_id is not None:
            raise ValueError("agent_id is only for agent tokens")
        return self


class ApiConfig(_Model):
    """The HTTP control API: tokens, and the agent event stream's resume window."""

    tokens: list[ApiToken] = Field(default_factory=list)
    sse_window_s: float = Field(default=300.0, gt=0)
    sse_max_events: int = Field(default=1000, ge=10)  # per agent, whatever the window
    sse_keepalive_s: float = Field(default=15.0, gt=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # With no tokens the GET views and agent event streams are open to anyone who can connect:
    # fine on loopback, refused on any other address unless this says it is meant
    # (cross_field_problems, "http.listen").
    allow_unauthenticated_network: bool = False


class WebhookEndpointConfig(_Model):
    """One webhook receiver: where, what, how it is signed, how hard to try."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    url: str = Field(max_length=2048)
    secret: SecretStr
    events: list[str] = Field(default_factory=list)  # notification type names; empty: every type
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    max_attempts: int = Field(default=10, ge=1, le=1000)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    allow_hosts: list[str] = Field(default_factory=list)  # host names or CIDR networks; empty: any
    max_response_bytes: int = Field(default=65536, ge=0)

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        return _resolve_secret(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value


class WebhooksConfig(_Model):
    endpoints: list[WebhookEndpointConfig] = Field(default_factory=list)


class ScreenPopConfig(_Model):
    """What a screen pop carries besides the call: IVR results and the new-customer form."""

    enabled: bool = True
    # Channel variables copied into the pop (IVR results); a trailing ``*`` matches a prefix.
    variables: list[str] = Field(default_factory=lambda: ["ctilink_*"])
    new_customer_fields: list[str] = Field(default_factory=lambda: ["name", "email", "company", "notes"])


class CrmConfig(_Model):
    """The CRM lookup behind screen pops: an HTTP GET template (``{number}`` is the E.164 number)."""

    url_template: str | None = Field(default=None, max_length=2048)
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    cache_ttl_s: float = Field(default=300.0, ge=0)
    cache_size: int = Field(default=10_000, ge=0)
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(default=262_144, ge=1024)

    @field_validator("headers", mode="before")
    @classmethod
    def _secrets(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: _resolve_secret(v) for k, v in value.items()}
        return value

    @field_validator("url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "{number}" not in value or not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL containing {number}")
        return value


class CallsConfig(_Model):
    """Click-to-dial: how a customer number is dialled and which caller id it shows."""

    dial_template: str = Field(default="sofia/gateway/default/{number}", max_length=256)
    caller_id_number: str | None = Field(default=None, pattern=r"^\+?[0-9]{1,20}$")
    caller_id_name: str | None = Field(default=None, max_length=64)
    ring_timeout_s: int = Field(default=30, ge=5, le=300)

    @field_validator("dial_template")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{number}" not in value:
            raise ValueError("expected a dial string containing {number}")
        return dial_template_problem(value)

    @field_validator("caller_id_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return renderable_text(value)


class Config(_Model):
    """The whole daemon configuration (``ctilink.toml``)."""

    nodes: list[NodeConfig] = Field(default_factory=list)
    http: HttpConfig = HttpConfig()
    metrics: MetricsConfig = MetricsConfig()
    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    api: ApiConfig = ApiConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    screen_pop: ScreenPopConfig = ScreenPopConfig()
    crm: CrmConfig = CrmConfig()
    calls: CallsConfig = CallsConfig()
    # Engine knobs other than queues and agents (not-ready reasons, delays, lists, sticky...):
    # validated by the core's own EngineConfig so the file follows the engine as it grows.
    engine: dict[str, Any] = Field(default_factory=dict)
    queues: list[QueueConfig] = Field(default_factory=list)
    agents: list[AgentProfile] = Field(default_factory=list)
    campaigns: list[CampaignConfig] = Field(default_factory=list)

    def engine_config(self) -> EngineConfig:
        """The core's configuration, cross-checked as a whole (strategies, overflow targets, skills).

        The campaigns' machine dispositions join the disposition codes: an agent must be able to
        say a connected call reached a machine, or the legal abandon rate could not be corrected."""
        engine = dict(self.engine)
        codes = list(engine.get("disposition_codes", ()))
        for campaign in self.campaigns:
            codes += [c for c in campaign.machine_dispositions if c not in codes]
        if codes:
            engine["disposition_codes"] = codes
        return EngineConfig(queues=list(self.queues), agents=list(self.agents), **engine)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before", "function-wrap") or str(part).startswith(
            ("function-", "json-or-python", "lax-or-strict")
        ):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _errors(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    result = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if prefix and (not loc or loc[0] not in ("queues", "agents")):
            loc = (prefix, *loc)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (not a setting ctilink knows)"
        result.append((_path(loc), message))
    return result


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a parsed TOML document; raises :class:`ConfigError` naming every bad field."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _errors(exc)) from None
    if "queues" in config.engine or "agents" in config.engine:
        raise ConfigError(source, [("engine", "queues and agents are top-level tables ([[queues]], [[agents]])")])
    try:
        config.engine_config()
    except ValidationError as exc:
        raise ConfigError(source, _errors(exc, "engine")) from None
    problems = _campaign_problems(config) + cross_field_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def _campaign_problems(config: Config) -> list[tuple[str, str]]:
    """Campaigns must name configured queues and agents, once each."""
    queues = {q.name for q in config.queues}
    agents = {a.id for a in config.agents}
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for i, campaign in enumerate(config.campaigns):
        if campaign.name in seen:
            out.append((f"campaigns[{i}].name", f"duplicate campaign name {campaign.name!r}"))
        seen.add(campaign.name)
        if campaign.queue not in queues:
            out.append((f"campaigns[{i}].queue", f"unknown queue {campaign.queue!r} (not in [[queues]])"))
        for j, agent_id in enumerate(campaign.agents):
            if agent_id not in agents:
                out.append((f"campaigns[{i}].agents[{j}]", f"unknown agent {agent_id!r} (not in [[agents]])"))
    return out


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; any other name may resolve to anything."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _blank_secret(path: str, value: str, what: str) -> list[tuple[str, str]]:
    if not value.strip():
        return [(path, f"{what} is empty")]
    return []


def _allow_host_problem(entry: str) -> str | None:
    """Why ``entry`` is not a host name, address or CIDR network. The HTTP client reads anything
    that does not parse as a network as a host name, so a typo in a network (``10.0.0.0/33``)
    would silently allow nothing: refuse it here instead."""
    if "/" in entry or _ADDRESS_LIKE.fullmatch(entry):
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            # strict: "10.1.2.3/8" reads as all of 10.0.0.0/8 at run time, wider than it looks.
            port = "; a host name takes no port" if ":" in entry and "/" not in entry else ""
            return f"not a valid IP address or CIDR network ({exc}{port})"
        return None
    if _HOST_NAME.fullmatch(entry) is None or len(entry) > 253:
        return "expected a host name, an IP address or a CIDR network (no wildcards, ports or URLs)"
    return None


def cross_field_problems(config: Config) -> list[tuple[str, str]]:
    """Problems between fields or sections of a structurally valid configuration."""
    out: list[tuple[str, str]] = []
    seen_nodes: dict[str, int] = {}
    for i, node in enumerate(config.nodes):
        password = node.password.get_secret_value()
        out += _blank_secret(f"nodes[{i}].password", password, "the event socket password")
        if _CONTROL.search(password):
            # The password goes on the ESL `auth` line: a line break would end it and start a command.
            out.append((f"nodes[{i}].password", "control characters (line breaks, tabs) are not allowed"))
        if node.name in seen_nodes:
            # Commands are routed by node name: the second node's calls would be sent to the first.
            out.append((f"nodes[{i}].name", f"duplicate node name {node.name!r} (also nodes[{seen_nodes[node.name]}])"))
        seen_nodes.setdefault(node.name, i)

    seen_hooks: dict[str, int] = {}
    for i, hook in enumerate(config.webhooks.endpoints):
        out += _blank_secret(f"webhooks.endpoints[{i}].secret", hook.secret.get_secret_value(), "the signing secret")
        if hook.name in seen_hooks:
            # Endpoints are keyed by name: one of the two would silently receive nothing.
            first = seen_hooks[hook.name]
            out.append(
                (f"webhooks.endpoints[{i}].name", f"duplicate endpoint name {hook.name!r} (also endpoints[{first}])")
            )
        seen_hooks.setdefault(hook.name, i)
        for j, entry in enumerate(hook.allow_hosts):
            problem = _allow_host_problem(entry)
            if problem is not None:
                out.append((f"webhooks.endpoints[{i}].allow_hosts[{j}]", f"{problem}, got {entry!r}"))

    holders: dict[str, int] = {}
    for i, token in enumerate(config.api.tokens):
        secret = token.token.get_secret_value()
        out += _blank_secret(f"api.tokens[{i}].token", secret, "the token")
        if secret in holders:
            # Any repeat is refused, same role or not: the API acts as whichever entry comes first,
            # so the second entry's name and scope would never apply.
            first = holders[secret]
            out.append(
                (
                    f"api.tokens[{i}].token",
                    f"same token as api.tokens[{first}] ({config.api.tokens[first].name!r}): every token must be unique",
                )
            )
        holders.setdefault(secret, i)

    if config.http.enabled and not config.api.tokens and not config.api.allow_unauthenticated_network:
        host = Listen.parse(config.http.listen).host
        if not is_loopback(host):
            out.append(
                (
                    "http.listen",
                    f"{host!r} is not a loopback address and no [[api.tokens]] are configured: every queue, agent "
                    "and call view and the agent event streams would be open to anyone who can reach it. "
                    "Configure api.tokens, listen on 127.0.0.1, or set api.allow_unauthenticated_network = true",
                )
            )
    return out


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), [("(file)", f"cannot read: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(p), [("(file)", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [("(file)", f"TOML syntax: {exc}")]) from None
    if not data:
        # Every setting has a default, so an empty file would validate as a daemon with no nodes,
        # queues or agents: almost certainly the wrong file (or a truncated one).
        raise ConfigError(str(p), [("(file)", "empty: the file sets nothing (only blanks or comments)")])
    return parse_config(data, str(p))


def masked_dump(config: Config) -> dict[str, Any]:
    """The resolved configuration as plain data with every secret masked (for ``check-config``)."""
    return config.model_dump(mode="json")  # SecretStr dumps as '**********'
