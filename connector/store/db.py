"""The database: engine, sessions and migrations (Alembic), SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import DatabaseUnreachable, DatabaseUrlError, SchemaNotMigrated

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any fixed 64-bit number works; every process that migrates takes the same lock, so two web workers
# (or a release phase racing a worker) run the migration one after the other, never side by side.
MIGRATION_LOCK_KEY = 0x43454D5F4D494752  # "CEM_MIGR"


def display_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)  # raises DatabaseUrlError
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest migration (idempotent); returns (revision before, head).

        On PostgreSQL the migration runs under a transaction-scoped advisory lock, so concurrent
        callers wait for each other and the later ones find the schema already at head.
        """
        with self._connected(begin=True) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            before = _current_revision(connection)
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return before, head_revision()

    def require_migrated(self) -> None:
        """Raise SchemaNotMigrated unless the schema is at this version's newest migration."""
        with self._connected() as connection:
            current = _current_revision(connection)
        head = head_revision()
        if current == head:
            return
        if current is not None and not _known_revision(current):
            raise SchemaNotMigrated(
                f"The database schema is at migration {current}, which this version does not know: a newer "
                f"version of cem-connector migrated it. Run that version (this one needs migration {head}).")
        state = "is empty" if current is None else f"is at migration {current}"
        raise SchemaNotMigrated(
            f"The database schema {state}; this version needs migration {head}. "
            "Run `cem-connector migrate` once (the Procfile's release phase does), then start the process again.")

    @contextmanager
    def _connected(self, *, begin: bool = False) -> Iterator[Connection]:
        try:
            connection = self.engine.connect()
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            raise DatabaseUnreachable(
                f"Cannot reach the database at {display_url(self.url)} ({reason}). Check that it is running and "
                "that DATABASE_URL names the right host, port, user and database.") from exc
        with connection:
            if begin:
                with connection.begin():
                    yield connection
            else:
                yield connection

    def table_names(self) -> list[str]:
        return inspect(self.engine).get_table_names()

    def dispose(self) -> None:
        self.engine.dispose()


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("")).get_heads()
    return ",".join(sorted(heads))


def _known_revision(revision: str) -> bool:
    scripts = ScriptDirectory.from_config(alembic_config(""))
    try:
        return all(scripts.get_revision(r) is not None for r in revision.split(","))
    except Exception:  # alembic raises its own errors for unknown ids
        return False


def _current_revision(connection) -> str | None:  # type: ignore[no-untyped-def]
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _make_engine(url: str) -> Engine:
    shown = display_url(url)
    try:
        return _create_engine(url)
    except NoSuchModuleError as exc:
        raise DatabaseUrlError(f"DATABASE_URL {shown} names a database this connector does not support. "
                               "Use PostgreSQL: postgresql://user:password@host:5432/dbname.") from exc
    except ArgumentError as exc:
        raise DatabaseUrlError("DATABASE_URL is not a database URL. Use the form "
                               "postgresql://user:password@host:5432/dbname.") from exc
    except ImportError as exc:
        raise DatabaseUrlError(f"DATABASE_URL {shown} needs the Python driver '{exc.name}', which is not "
                               "installed. Use postgresql:// (its driver, psycopg, comes with cem-connector) or "
                               f"install the driver into this environment.") from exc


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the web process read while a worker writes; foreign keys make deletes cascade.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upsert(store: Store, table: Any) -> Any:
    """``INSERT ... ON CONFLICT`` for the store's dialect (both supported ones have it)."""
    dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
