"""``[store]``: the engine choice, its checks, the masked Redis password, and open_store."""

from __future__ import annotations

import uuid

import pytest

from ctilink.config import ConfigError, masked_dump, parse_config
from ctilink.store import SqliteStore
from ctilink.store.factory import open_store
from ctilink.store.redis_store import RedisStore


def _fields(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [path for path, _ in exc.value.errors]


def test_sqlite_stays_the_default() -> None:
    config = parse_config({})
    assert config.store.engine == "sqlite" and config.store.path == "ctilink.db"


def test_bad_store_fields_are_named() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"store": {"engine": "redis", "url": "http://example.com"}})
    assert "store.url" in _fields(exc)
    with pytest.raises(ConfigError) as exc:
        parse_config({"store": {"engine": "redis", "prefix": "two words"}})
    assert "store.prefix" in _fields(exc)
    with pytest.raises(ConfigError) as exc:
        parse_config({"store": {"engine": "redis", "sentinels": ["nohost"], "service_name": "m"}})
    assert any(f.startswith("store.sentinels") for f in _fields(exc))
    with pytest.raises(ConfigError, match="service_name"):
        parse_config({"store": {"engine": "redis", "sentinels": ["127.0.0.1:26379"]}})
    with pytest.raises(ConfigError) as exc:
        parse_config({"store": {"engine": "mongo"}})
    assert "store.engine" in _fields(exc)


def test_redis_password_is_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTILINK_TEST_REDIS_URL", "redis://app:s3cret-pw@redis.example:6380/2")
    config = parse_config({"store": {"engine": "redis", "url": "env:CTILINK_TEST_REDIS_URL"}})
    assert config.store.url.get_secret_value().endswith("@redis.example:6380/2")
    dumped = masked_dump(config)
    assert dumped["store"]["url"] == "redis://app:***@redis.example:6380/2"
    assert "s3cret-pw" not in repr(config) and "s3cret-pw" not in str(dumped)


def test_open_store_builds_the_configured_engine(tmp_path: object, redis_port: int) -> None:
    sqlite = open_store(parse_config({"store": {"path": str(tmp_path) + "/x.db"}}).store)
    assert isinstance(sqlite, SqliteStore)
    sqlite.close()
    prefix = f"cfg-{uuid.uuid4().hex[:8]}:"
    url = f"redis://127.0.0.1:{redis_port}/0"
    with open_store(parse_config({"store": {"engine": "redis", "url": url, "prefix": prefix}}).store) as store:
        assert isinstance(store, RedisStore) and store.prefix == prefix
        store.sticky_put("+442079460958", None, "1001", now=0.0)
        assert store.sticky_get("+442079460958", None, now=1.0) == "1001"
