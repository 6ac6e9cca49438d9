"""Layered configuration: files, run mode, environment, validation and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from oak_maillist.config import DEFAULT_JWT_SECRET, ConfigError, load_settings, redacted

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder with the shipped default.toml, and no OAK__ variables around."""
    for name in list(__import__("os").environ):
        if name.startswith("OAK__") or name in ("RUN_MODE", "CONFIG_DIR"):
            monkeypatch.delenv(name)
    (tmp_path / "default.toml").write_text((REPO_CONFIG / "default.toml").read_text())
    monkeypatch.setenv("CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_shipped_defaults_match_the_spec(config_dir: Path) -> None:
    settings = load_settings()
    assert settings.run_mode == "development"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 3000)
    assert settings.database.url.get_secret_value() == "sqlite://./data/oak_maillist.db"
    assert (settings.database.max_connections, settings.database.min_connections) == (20, 5)
    assert (settings.database.connect_timeout, settings.database.idle_timeout) == (10, 300)
    assert settings.security.jwt_expiration_seconds == 900
    assert settings.security.refresh_token_expiration_days == 7
    assert settings.security.session_token_expiration_seconds == 600
    assert settings.security.password_min_length == 8
    assert (settings.smtp.incoming.enabled, settings.smtp.incoming.port) == (True, 2525)
    assert settings.smtp.outgoing.port == 587
    ai = settings.ai_moderation
    assert (ai.provider, ai.region, ai.service) == ("aliyun", "cn-shanghai", "ugc_moderation_byllm")
    assert str(ai.endpoint) == "https://green-cip.cn-shanghai.aliyuncs.com/"
    assert (ai.high_risk_threshold, ai.medium_risk_threshold) == (80, 50)
    assert (ai.request_timeout_seconds, ai.max_text_length) == (30, 2000)
    assert (settings.archive.enabled, settings.archive.max_attachment_size_mb) == (True, 10)
    assert str(settings.archive.storage_path) == "storage/archives"
    assert (settings.logging.level, settings.logging.format) == ("info", "json")


def test_every_key_of_the_spec_example_exists(config_dir: Path) -> None:
    spec_keys = {
        "server": {"host", "port", "base_url"},
        "database": {
            "url",
            "max_connections",
            "min_connections",
            "connect_timeout",
            "idle_timeout",
        },
        "security": {
            "jwt_secret",
            "jwt_expiration_seconds",
            "refresh_token_expiration_days",
            "session_token_expiration_seconds",
            "password_min_length",
            "webauthn_rp_id",
        },
        "ai_moderation": {
            "enabled",
            "provider",
            "access_key_id",
            "access_key_secret",
            "region",
            "service",
            "endpoint",
            "high_risk_threshold",
            "medium_risk_threshold",
            "request_timeout_seconds",
            "max_text_length",
        },
        "archive": {"enabled", "storage_path", "max_attachment_size_mb"},
        "logging": {"level", "format"},
    }
    dumped = load_settings().model_dump()
    for section, keys in spec_keys.items():
        assert keys <= set(dumped[section]), section
    assert {"enabled", "host", "port"} <= set(dumped["smtp"]["incoming"])
    assert {"host", "port", "username", "password", "from_address"} <= set(
        dumped["smtp"]["outgoing"]
    )


def test_run_mode_file_overrides_one_key_and_keeps_the_rest_of_its_table(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "staging.toml").write_text(
        '[security]\njwt_secret = "staging-secret-0123456789abcdefghijklmn"\n'
        "[smtp.outgoing]\nport = 2587\n"
    )
    monkeypatch.setenv("RUN_MODE", "staging")
    settings = load_settings()
    assert settings.run_mode == "staging"
    assert settings.smtp.outgoing.port == 2587
    assert settings.smtp.outgoing.from_address == "noreply@localhost"  # deep merge
    assert settings.security.jwt_expiration_seconds == 900
    assert settings.config_files == (config_dir / "default.toml", config_dir / "staging.toml")


def test_environment_overrides_files_with_double_underscore_nesting(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAK__SMTP__OUTGOING__HOST", "smtp.example.com")
    monkeypatch.setenv("OAK__SERVER__PORT", "3100")
    monkeypatch.setenv("OAK__AI_MODERATION__ENABLED", "true")
    settings = load_settings()
    assert settings.smtp.outgoing.host == "smtp.example.com"
    assert settings.server.port == 3100
    assert settings.ai_moderation.enabled is True


def test_invalid_values_name_every_bad_key(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAK__SERVER__PORT", "abc")
    monkeypatch.setenv("OAK__LOGGING__FORMAT", "xml")
    monkeypatch.setenv("OAK__AI_MODERATION__MEDIUM_RISK_THRESHOLD", "90")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    text = str(caught.value)
    assert "server.port:" in text
    assert "logging.format:" in text
    assert "medium_risk_threshold must not exceed high_risk_threshold" in text
    assert len(caught.value.problems) == 3


def test_unknown_key_in_a_file_is_an_error(config_dir: Path) -> None:
    with (config_dir / "default.toml").open("a") as handle:
        handle.write("\n[archive.extra]\nfoo = 1\n")
    with pytest.raises(ConfigError, match=r"archive\.extra"):
        load_settings()


def test_malformed_toml_is_a_config_error(config_dir: Path) -> None:
    (config_dir / "default.toml").write_text("[server\nport = ")
    with pytest.raises(ConfigError, match="configuration files"):
        load_settings()


@pytest.mark.parametrize("mode", ["production", "staging"])
def test_default_jwt_secret_refused_outside_development(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("RUN_MODE", mode)
    with pytest.raises(ConfigError, match=r"security\.jwt_secret"):
        load_settings()
    monkeypatch.setenv("OAK__SECURITY__JWT_SECRET", "short-but-not-default")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings()
    monkeypatch.setenv("OAK__SECURITY__JWT_SECRET", "a-real-secret-of-some-length-0123456789")
    assert load_settings().run_mode == mode


def test_default_jwt_secret_allowed_in_development(config_dir: Path) -> None:
    assert load_settings().security.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET


def test_redacted_view_hides_every_secret(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAK__DATABASE__URL", "postgres://oak:hunter2pass@db:5432/oak")
    monkeypatch.setenv("OAK__SMTP__OUTGOING__PASSWORD", "smtp-pass-value")
    monkeypatch.setenv("OAK__AI_MODERATION__ACCESS_KEY_SECRET", "aliyun-secret-value")
    view = redacted(load_settings())
    text = repr(view)
    for secret in ("hunter2pass", "smtp-pass-value", "aliyun-secret-value", DEFAULT_JWT_SECRET):
        assert secret not in text
    assert view["database"]["url"] == "postgres://oak:********@db:5432/oak"
    assert view["smtp"]["outgoing"]["password"] == "********"
