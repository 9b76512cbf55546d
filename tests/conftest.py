"""Shared pytest configuration: fixtures live in tests/fixtures/, one module per real component."""

pytest_plugins = [
    "fixtures.prometheus",  # real prometheus / pushgateway / alertmanager processes on 127.0.0.1
    "fixtures.postgres",  # a real PostgreSQL server in a temp dir
    "fixtures.log_buffer",  # each recorder test twice: compiled and pure-Python log()
    "fixtures.monitoring",  # training processes and a webhook receiver for the monitoring tests
]



def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001, ARG001 - pytest's hook
    """Print how many cases of the hostile suite ran and how many of them passed."""
    module = "test_hardening_hostile_suite.py::"
    ran = {k: [r for r in terminalreporter.stats.get(k, []) if module in getattr(r, "nodeid", "")]
           for k in ("passed", "failed", "error")}
    if any(ran.values()):
        terminalreporter.write_line(f"hostile suite: {sum(map(len, ran.values()))} generated cases ran, "
                                    f"{len(ran['passed'])} passed, {len(ran['failed']) + len(ran['error'])} failed")
