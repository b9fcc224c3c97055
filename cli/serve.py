"""`siao serve` and `siao migrate`; `app_factory`, the app of each uvicorn worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time

from starlette.applications import Starlette

from auth.settings import Settings
from cli.database import resolve_database
from cli.running import announced
from migrations import upgrade
from models.database import create_engine
from models.embedded import exit_on_stop_signals
from server import create_app

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve /graphql (embedded database unless DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data (idempotent)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.set_defaults(run=run_serve)
    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    upgrade(resolve_database(settings))
    print("Migrations applied.")
    return 0


def run_serve(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    import uvicorn

    # SIGTERM and SIGINT unwind the process (after uvicorn's graceful shutdown): the
    # embedded server is stopped and this server's listing removed (cli.running).
    exit_on_stop_signals()
    started = time.perf_counter()
    url = resolve_database(settings)
    upgrade(url)
    if args.demo:
        from models.demo import load_demo

        summary = asyncio.run(load_demo(url))
        print(f"Demo data: {summary}")
    swept = asyncio.run(_sweep_attachments(settings, url))
    if swept:
        print(f"Removed {swept} stored file(s) of attachments that no longer exist.")
    os.environ["DATABASE_URL"] = url
    base = f"http://{args.host}:{args.port}"
    print(f"Ready in {time.perf_counter() - started:.1f}s (database and migrations).")
    print(
        f"GraphQL endpoint: {base}/graphql"
        + (" (GraphiQL in a browser)" if settings.is_dev else "")
    )
    if settings.is_dev:
        print(f"Data folder (its key signs the dev tokens): {settings.data_dir}")
        print("A token for GraphiQL's Headers tab: siao token --user siao.75@demo.siao --header")
    # Listed while it serves, so that `siao token` can tell a token it would refuse.
    listing: contextlib.AbstractContextManager[object] = (
        announced(f"{base}/graphql", settings.data_dir)
        if settings.is_dev
        else contextlib.nullcontext()
    )
    with listing:
        if args.workers > 1:
            uvicorn.run(
                "cli:app_factory",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="warning",
            )
        else:
            app = create_app(settings, url)
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def app_factory() -> Starlette:
    """For uvicorn workers: DATABASE_URL is set by `siao serve` before it forks them."""
    settings = Settings.from_env()
    if settings.database_url is None:
        raise SystemExit("app_factory needs DATABASE_URL (siao serve sets it)")
    _stop_with_parent()
    return create_app(settings, str(settings.database_url))


def _stop_with_parent() -> None:
    """A worker outlives a `siao serve` parent killed outright (kill -9, OOM killer): it
    would go on holding the port, so that the next `siao serve` cannot serve, and
    connections to a database that that next one may stop. It shuts down gracefully
    (SIGTERM to itself, as the parent would send) when the parent is gone; the
    multiprocessing sentinel tells it without polling."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a worker of uvicorn's supervisor
        return

    def wait_then_stop() -> None:
        parent.join()
        log.warning("siao serve (pid %s) is gone: this worker stops", parent.pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_then_stop, name="stop-with-parent", daemon=True).start()


async def _sweep_attachments(settings: Settings, url: str) -> int:
    """Before serving: the files a failed deletion or a crash left (resolvers.attachment)."""
    from models.storage import LocalStorage
    from resolvers.attachment import sweep

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        return await sweep(engine, LocalStorage(settings.attachments_dir))
    finally:
        await engine.dispose()
