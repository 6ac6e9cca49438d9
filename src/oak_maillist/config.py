"""Settings: config/default.toml, then config/{RUN_MODE}.toml, then OAK__SECTION__KEY variables."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_JWT_SECRET = "change-me-to-a-random-string"  # noqa: S105 - the value we refuse in production
Port = int
# host:port of a spamd (SpamAssassin) daemon, which speaks SPAMC, not HTTP.
SpamdAddress = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]+:[0-9]{1,5}$")]


class Section(BaseModel):
    """A TOML table: unknown keys are errors, so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Section):
    host: str = "0.0.0.0"  # noqa: S104 - a server binds all interfaces by default
    port: int = Field(default=3000, ge=1, le=65535)
    base_url: AnyHttpUrl = AnyHttpUrl("http://localhost:3000")
    static_dir: Path = Path("./frontend/dist")
    forwarded_allow_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    max_body_size_mb: int = Field(default=50, ge=1, le=2048)

    @property
    def public_url(self) -> str:
        """Base URL without a trailing slash, for links in mail and pages."""
        return str(self.base_url).rstrip("/")


class DatabaseSettings(Section):
    url: SecretStr = SecretStr("sqlite://./data/oak_maillist.db")
    max_connections: int = Field(default=20, ge=1, le=1000)
    min_connections: int = Field(default=5, ge=0, le=1000)
    connect_timeout: int = Field(default=10, ge=1, le=600)
    idle_timeout: int = Field(default=300, ge=1, le=86400)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        schemes = (
            "sqlite:",
            "postgres://",
            "postgresql://",
            "postgresql+",
            "mysql://",
            "mysql+",
            "mariadb://",
            "mariadb+",
        )
        if not url.startswith(schemes):
            raise ValueError("must start with sqlite://, postgres://, postgresql:// or mysql://")
        return value

    @model_validator(mode="after")
    def _pool_bounds(self) -> DatabaseSettings:
        if self.min_connections > self.max_connections:
            raise ValueError("min_connections must not exceed max_connections")
        return self


class SecuritySettings(Section):
    jwt_secret: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_expiration_seconds: int = Field(default=900, ge=30, le=86400)
    refresh_token_expiration_days: int = Field(default=7, ge=1, le=365)
    session_token_expiration_seconds: int = Field(default=600, ge=30, le=3600)
    password_min_length: int = Field(default=8, ge=6, le=128)
    webauthn_rp_id: str = Field(default="localhost", min_length=1, max_length=253)
    webauthn_rp_name: str = Field(default="Oak Maillist", min_length=1, max_length=100)
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    argon2_parallelism: int = Field(default=4, ge=1, le=64)
    # Where rate-limit counters live: memory:// for one process, redis://host:6379/1 when
    # several processes serve HTTP or SMTP.
    rate_limit_storage: str = "memory://"

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory://, redis://... or rediss://...")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value


class IncomingSmtpSettings(Section):
    enabled: bool = True
    host: str = "0.0.0.0"  # noqa: S104
    port: int = Field(default=2525, ge=0, le=65535)
    max_message_size: int = Field(default=25 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_recipients: int = Field(default=100, ge=1, le=10000)
    max_connections: int = Field(default=200, ge=1, le=100000)
    idle_timeout: int = Field(default=300, ge=5, le=3600)
    rate_limit_per_minute: int = Field(default=120, ge=0)
    # Clients the rate limit does not apply to: the local MTA that hands mail over.
    rate_limit_exempt: list[str] = ["127.0.0.1", "::1"]
    tls_cert_file: str = ""
    tls_key_file: str = ""
    lmtp_enabled: bool = False
    lmtp_host: str = "127.0.0.1"
    lmtp_port: int = Field(default=8024, ge=0, le=65535)

    @model_validator(mode="after")
    def _tls_pair(self) -> IncomingSmtpSettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file must be set together")
        return self


class OutgoingSmtpSettings(Section):
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    password: SecretStr = SecretStr("")
    from_address: str = "noreply@localhost"
    timeout_seconds: int = Field(default=30, ge=1, le=600)
    max_connections: int = Field(default=8, ge=1, le=256)
    rate_limit_per_second: int = Field(default=0, ge=0)
    retry_period_hours: int = Field(default=120, ge=1, le=24 * 30)


class SmtpSettings(Section):
    incoming: IncomingSmtpSettings = IncomingSmtpSettings()
    outgoing: OutgoingSmtpSettings = OutgoingSmtpSettings()


class QueueSettings(Section):
    broker: str = "memory"
    concurrency: int = Field(default=4, ge=1, le=256)
    lease_seconds: int = Field(default=300, ge=10, le=86400)

    @field_validator("broker")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value != "memory" and not value.startswith(
            ("redis://", "rediss://", "amqp://", "amqps://")
        ):
            raise ValueError('must be "memory", redis://... or amqp://...')
        return value


class AiModerationSettings(Section):
    enabled: bool = False
    provider: Literal["aliyun", "openai", "rspamd", "spamassassin"] = "aliyun"
    access_key_id: SecretStr = SecretStr("")
    access_key_secret: SecretStr = SecretStr("")
    region: str = "cn-shanghai"
    service: str = "ugc_moderation_byllm"
    # The provider's address: the Aliyun endpoint, the OpenAI-compatible base URL (…/v1),
    # http://127.0.0.1:11333 for Rspamd, 127.0.0.1:783 for spamd.
    endpoint: AnyHttpUrl | SpamdAddress = Field(
        default=AnyHttpUrl("https://green-cip.cn-shanghai.aliyuncs.com"), union_mode="left_to_right"
    )
    high_risk_threshold: int = Field(default=80, ge=0, le=100)
    medium_risk_threshold: int = Field(default=50, ge=0, le=100)
    request_timeout_seconds: int = Field(default=30, ge=1, le=600)
    max_text_length: int = Field(default=2000, ge=100, le=100000)
    # OpenAI-compatible providers: bearer key, model, and which API (moderations or chat).
    api_key: SecretStr = SecretStr("")
    model: str = Field(default="omni-moderation-latest", max_length=200)
    openai_mode: Literal["moderations", "chat"] = "moderations"
    # Where feedback is learned: Rspamd's controller (default: the endpoint's host, port 11334).
    learn_endpoint: str = Field(default="", max_length=500)
    # Tries after the first, with backoff; then the breaker counts one failure.
    max_retries: int = Field(default=2, ge=0, le=10)
    # Consecutive failed messages that open the circuit, and how long it stays open.
    circuit_failure_threshold: int = Field(default=5, ge=1, le=1000)
    circuit_reset_seconds: int = Field(default=60, ge=1, le=86400)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> AiModerationSettings:
        if self.medium_risk_threshold > self.high_risk_threshold:
            raise ValueError("medium_risk_threshold must not exceed high_risk_threshold")
        if self.provider != "spamassassin" and not isinstance(self.endpoint, AnyHttpUrl):
            raise ValueError(f"endpoint: the {self.provider} provider needs an http(s) URL")
        return self


class ArchiveSettings(Section):
    enabled: bool = True
    storage_path: Path = Path("./storage/archives")
    max_attachment_size_mb: int = Field(default=10, ge=0, le=1024)


class ModerationSettings(Section):
    # Held posts nobody decided on expire after this many days (the raw message is kept).
    hold_expiry_days: int = Field(default=14, ge=1, le=365)
    # Notices to one poster about held or rejected posts, at most this many a day.
    max_notices_per_sender_per_day: int = Field(default=10, ge=0, le=1000)


class DnsSettings(Section):
    """DNS for DMARC policy lookups; empty nameservers means the system resolver."""

    dmarc_lookups: bool = True
    nameservers: list[str] = Field(default_factory=list, max_length=8)
    port: int = Field(default=53, ge=1, le=65535)
    timeout_seconds: float = Field(default=3, gt=0, le=30)


class DigestSettings(Section):
    """When digests go out (UTC): daily ones at `hour`, weekly ones on `weekly_day` at `hour`."""

    hour: int = Field(default=0, ge=0, le=23)
    weekly_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "monday"
    # A digest holds at most this many posts; the rest wait for the next one.
    max_messages: int = Field(default=200, ge=1, le=5000)


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["pretty", "json"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class Settings(BaseSettings):
    """The whole configuration tree; one nested model per TOML table."""

    model_config = SettingsConfigDict(
        env_prefix="OAK__",
        env_nested_delimiter="__",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    run_mode: str = Field(default="development", min_length=1, max_length=50)
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    smtp: SmtpSettings = SmtpSettings()
    queue: QueueSettings = QueueSettings()
    ai_moderation: AiModerationSettings = AiModerationSettings()
    archive: ArchiveSettings = ArchiveSettings()
    moderation: ModerationSettings = ModerationSettings()
    dns: DnsSettings = DnsSettings()
    digest: DigestSettings = DigestSettings()
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> Settings:
        secret = self.security.jwt_secret.get_secret_value()
        if self.run_mode not in ("development", "test"):
            if secret == DEFAULT_JWT_SECRET:
                raise ValueError(
                    "security.jwt_secret: the default secret is refused outside development; "
                    "set OAK__SECURITY__JWT_SECRET (openssl rand -hex 32)"
                )
            if len(secret) < 32:
                raise ValueError(
                    "security.jwt_secret: must be at least 32 characters outside development"
                )
        return self

    @property
    def is_development(self) -> bool:
        return self.run_mode in ("development", "test")

    @cached_property
    def config_files(self) -> tuple[Path, ...]:
        """The TOML files this configuration was read from (for `config check`)."""
        return _config_files(_config_dir(), _run_mode())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = _config_files(_config_dir(), _run_mode())
        toml = TomlConfigSettingsSource(settings_cls, toml_file=list(files), deep_merge=True)
        return (init_settings, env_settings, toml)


def _config_dir() -> Path:
    return Path(os.environ.get("CONFIG_DIR", "./config"))


def _run_mode() -> str:
    return os.environ.get("RUN_MODE", "") or os.environ.get("OAK__RUN_MODE", "") or "development"


def _config_files(config_dir: Path, run_mode: str) -> tuple[Path, ...]:
    candidates = [config_dir / "default.toml", config_dir / f"{run_mode}.toml"]
    return tuple(path for path in candidates if path.is_file())


class ConfigError(Exception):
    """Invalid configuration: one line per problem, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(**overrides: Any) -> Settings:
    """Read the layered configuration, raising ConfigError that names every invalid key."""
    run_mode = _run_mode()
    try:
        return Settings(**({"run_mode": run_mode} | overrides))
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError([f"configuration files: {exc}"]) from None


def describe_errors(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into `section.key: problem` lines."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if message.startswith(f"{location}:") or not location:
            problems.append(message)
        else:
            problems.append(f"{location}: {message}")
    return problems


SECRET_MARK = "********"  # noqa: S105 - a mask, not a secret


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration with every secret replaced, for display."""
    data = settings.model_dump(mode="json")
    _redact_tree(settings, data)
    return data


def _redact_tree(model: BaseModel, data: dict[str, Any]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = _redact_value(name, value.get_secret_value())
        elif isinstance(value, BaseModel):
            _redact_tree(value, data[name])


def _redact_value(name: str, secret: str) -> str:
    if name == "url":  # keep a database URL readable, hide its password
        return _redact_url_password(secret)
    return SECRET_MARK if secret else ""


def _redact_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}://{user}{':' + SECRET_MARK if has_password else ''}@{host}"
