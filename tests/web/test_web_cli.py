"""``evflex serve``: options checked before anything listens; one line per error, exit 1."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from evflex.cli import app

runner = CliRunner()


def test_serve_is_registered_with_loopback_default() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "8050" in result.output


def test_bad_port_and_level_exit_1_naming_the_option() -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 1
    assert "--port: out of range (got 70000, expected 1 to 65535)" in result.output
    result = runner.invoke(app, ["serve", "--log-level", "loud"])
    assert result.exit_code == 1
    assert "--log-level: unknown level (got 'loud'" in result.output
    for workers in ("0", "17"):
        result = runner.invoke(app, ["serve", "--workers", workers])
        assert result.exit_code == 1
        assert f"--workers: out of range (got {workers}, expected 1 to 16)" in result.output


def test_port_in_use_exits_1() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"--port: cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_unknown_host_exits_1() -> None:
    result = runner.invoke(app, ["serve", "--host", "no-such-host.invalid"])
    assert result.exit_code == 1
    assert "--host: not an address of this machine" in result.output
