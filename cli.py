"""The `siao` command line: serve, migrate, token, schema, rights-matrix, lifecycle, bench."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import replace

from starlette.applications import Starlette

from auth.policy import PartnerScope
from auth.settings import Settings
from auth.tokens import InvalidToken, PartnerGrant, mint_dev_token
from migrations import upgrade
from models.database import create_engine
from schema import SDL_PATH, export_sdl
from server import configure_logging, create_app

log = logging.getLogger(__name__)

# --- command line ---------------------------------------------------------------------


def resolve_database(settings: Settings) -> str:
    """DATABASE_URL if set, else the embedded server under the data folder (started now,
    stopped when this process exits: normally, on an error, or on SIGTERM or SIGINT, which
    from now on unwind the process rather than end it on the spot)."""
    if settings.database_url is not None:
        return str(settings.database_url)
    from models.embedded import exit_on_stop_signals, start_embedded

    exit_on_stop_signals()
    return start_embedded(settings.data_dir).url


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


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

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
        print("Get a token: siao token --user siao.75@demo.siao")
        print('Then, in GraphiQL\'s Headers tab: {"Authorization": "Bearer <token>"}')
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
        uvicorn.run(create_app(settings, url), host=args.host, port=args.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="siao", description="SI SIAO household graph API.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve /graphql (embedded database unless DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data (idempotent)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    sub.add_parser("migrate", help="apply the database migrations")
    token = sub.add_parser("token", help="print a dev token (SIAO_ENV=dev only)")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="login of a user, e.g. siao.75@demo.siao")
    who.add_argument("--partner", help="name of a partner system, e.g. SYPLO")
    token.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=[s.value for s in PartnerScope],
        help="a partner scope (repeatable)",
    )
    token.add_argument("--territory", help="the partner's territory code")
    token.add_argument("--hours", type=float, default=12.0)
    matrix = sub.add_parser(
        "rights-matrix", help="print the rights matrix generated from the schema and the policy"
    )
    matrix.add_argument("--write", action="store_true", help="write docs/rights-matrix.md")
    lifecycle = sub.add_parser("lifecycle", help="print the demand lifecycle diagram (Mermaid)")
    lifecycle.add_argument("--write", action="store_true", help="write docs/demand-lifecycle.md")
    bench = sub.add_parser("bench", help="reproducible measurements (see bench/README.md)")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    bench_seed = bench_sub.add_parser(
        "seed", help="generate a realistic dataset with COPY (DATABASE_URL or embedded)"
    )
    bench_seed.add_argument("--persons", type=int, required=True, help="how many persons")
    bench_seed.add_argument("--seed", type=int, default=1, help="random seed (deterministic)")
    bench_sub.add_parser(
        "run",
        add_help=False,
        help="serve and load-test the scenarios: household record, work queue, person "
        "search, create demand (arguments: see python -m bench.run -h)",
    )
    sub.add_parser(
        "fuzz",
        add_help=False,
        help="send schema-generated documents and malformed HTTP requests, as every role, "
        "and report any 5xx or INTERNAL_SERVER_ERROR (arguments: python -m bench.fuzz -h)",
    )
    schema_cmd = sub.add_parser("schema", help="schema tools")
    schema_sub = schema_cmd.add_subparsers(dest="schema_command", required=True)
    schema_sub.add_parser("export", help=f"write the SDL to {SDL_PATH}")
    args, extra = parser.parse_known_args(argv)
    passes_through = args.command == "fuzz" or (
        args.command == "bench" and args.bench_command == "run"
    )
    if extra and not passes_through:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    configure_logging()
    settings = Settings.from_env()
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "migrate":
        upgrade(resolve_database(settings))
        print("Migrations applied.")
        return 0
    if args.command == "token":
        from datetime import timedelta

        grant = None
        if args.partner:
            if not args.territory:
                parser.error("--partner needs --territory")
            grant = PartnerGrant(
                name=args.partner,
                scopes=frozenset(PartnerScope(s) for s in args.scope),
                territory=args.territory,
            )
        subject = args.user or f"partner:{args.partner}"
        try:
            print(mint_dev_token(settings, subject, ttl=timedelta(hours=args.hours), partner=grant))
        except InvalidToken as exc:
            print(f"siao token: {exc.reason}", file=sys.stderr)
            return 2
        return 0
    if args.command == "rights-matrix":
        from schema.rights_matrix import DOC_PATH, render

        text = render()
        if args.write:
            DOC_PATH.parent.mkdir(exist_ok=True)
            DOC_PATH.write_text(text)
            print(f"Wrote {DOC_PATH}")
        else:
            print(text, end="")
        return 0
    if args.command == "fuzz":
        from bench.fuzz import main as fuzz

        return fuzz(extra)
    if args.command == "bench":
        if args.bench_command == "run":
            from bench.run import main as bench_run

            return bench_run(extra)
        from bench.seed import seed, vacuum

        url = resolve_database(settings)
        upgrade(url)
        report = asyncio.run(seed(url, args.persons, seed=args.seed))
        print(report.summary(), flush=True)
        print(f"then VACUUM (ANALYZE) of these tables in {asyncio.run(vacuum(url)):.1f}s")
        return 0
    if args.command == "lifecycle":
        from models.lifecycle import DOC_PATH as LIFECYCLE_DOC
        from models.lifecycle import document

        text = document()
        if args.write:
            LIFECYCLE_DOC.parent.mkdir(exist_ok=True)
            LIFECYCLE_DOC.write_text(text)
            print(f"Wrote {LIFECYCLE_DOC}")
        else:
            print(text, end="")
        return 0
    if args.command == "schema":
        SDL_PATH.write_text(export_sdl(replace(settings)))
        print(f"Wrote {SDL_PATH}")
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
