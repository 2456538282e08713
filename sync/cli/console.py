"""``revbridge console``: the support console alone, on one port; no flow runs here.

``console`` exit codes: 0 stopped by SIGTERM or Ctrl-C; 2 the configuration is invalid, the
store can't be opened, or the address can't be listened on.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from starlette.types import ASGIApp

from config.settings import Settings
from sync.cli.common import DEFAULT_CONFIG, fail, open_store, settings_from
from sync.cli.output import cap_logged_values
from sync.service.http_server import HttpLimits, HttpServer, bind_problem
from sync.service.logs import LogFormat, configure_logging
from sync.service.serve import stop_on_signals
from sync.store import Store
from sync.store.users import list_users

log = logging.getLogger("revbridge.console")


def register(app: typer.Typer) -> None:
    """Add this module's command to ``app``."""
    app.command("console")(console_command)


def console_app_for(store: Store, settings: Settings) -> ASGIApp:
    """The console over ``store``, as `serve` and `console` mount it."""
    # FastAPI loads only for the commands that serve the console, not for every command.
    from sync.console.app import create_console_app  # noqa: PLC0415
    from sync.console.context import ConsoleContext  # noqa: PLC0415

    return create_console_app(ConsoleContext(store=store, settings=settings))


def quiet_server_loggers() -> None:
    """Keep uvicorn's and Alembic's start-up chatter out; their warnings stay."""
    for chatty in ("uvicorn.error", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_about_exposure(host: str, settings: Settings) -> None:
    """Warn when the console is reachable off this host over plain http with no proxy named."""
    if not _loopback(host) and not settings.console.trusted_proxies:
        log.warning(
            "the console listens on %s over plain http: put it behind an https reverse proxy "
            "and list that proxy in console.trusted_proxies, so cookies are sent securely",
            host,
        )


def console_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="human lines, or one JSON object a line.")
    ] = LogFormat.HUMAN,
) -> None:
    """Serve the support console (error queue, journeys, conflicts, runs) until SIGTERM."""
    settings = settings_from(config)
    configure_logging(log_format)
    cap_logged_values()
    quiet_server_loggers()
    store = open_store(settings.database_url)
    try:
        limits = HttpLimits.from_settings(settings.serve)
        server = HttpServer(console_app_for(store, settings), host, port, limits=limits)
    except OSError as error:
        store.close()
        raise fail(f"cannot listen on {host}:{port}: {bind_problem(error)}") from None
    warn_about_exposure(host, settings)
    if not list_users(store):
        hint = f"revbridge users add NAME --role admin -c {config}"
        log.warning("no console users yet: add one with `%s`", hint)
    stop: threading.Event = stop_on_signals()
    server.start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.port}/"
    log.info("console at %s (SIGTERM or Ctrl-C stops it)", url, extra={"port": server.port})
    try:
        while not stop.wait(1.0):  # timed: signal handlers run between waits
            pass
    finally:
        server.stop()
        store.close()
