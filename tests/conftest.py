"""Shared pytest configuration: fixtures live in tests/fixtures/, one module per real component."""

pytest_plugins = [
    "fixtures.prometheus",  # real prometheus / pushgateway / alertmanager processes on 127.0.0.1
    "fixtures.postgres",  # a real PostgreSQL server in a temp dir
    "fixtures.log_buffer",  # each recorder test twice: compiled and pure-Python log()
    "fixtures.monitoring",  # training processes and a webhook receiver for the monitoring tests
]

