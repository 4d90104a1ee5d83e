"""Shared fixtures: real redis-server processes, started once per test run and stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers import RedisClusterServers, RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server on a free loopback port (no persistence); fails if it is not installed."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A real 3-master Redis Cluster on free loopback ports."""
    with RedisClusterServers(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """The teaching notebooks' Redis: the run's shared redis-server, in a database of its own."""
    return redis_server.url.rsplit("/", 1)[0] + "/5"
