"""Pipeline tests run on SQLite and on a throwaway PostgreSQL cluster (the store's fixtures)."""

from tests.store.conftest import database_url, pg_cluster, pg_database_url  # noqa: F401 - fixtures
