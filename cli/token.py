"""`siao token`: a dev token (SIAO_ENV=dev), for a user of the server's database or for a
partner system; `--header` prints it as the JSON to paste in GraphiQL's Headers tab.

What would only fail at request time is told now: an unknown or inactive login, or a
duration that is not positive, is refused (exit 2); a token signed with the key of another
data folder than a running dev server's is printed with a warning (that server answers
it 401). The login is checked in the database `siao serve` uses (`cli.database`)."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import math
import sys
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from auth.policy import PartnerScope
from auth.settings import Settings
from auth.tokens import PartnerGrant, mint_dev_token
from cli.database import existing_database
from cli.running import running_servers
from models.database import create_engine
from models.organisation import User

REFUSED = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = sub.add_parser(
        "token",
        help="print a dev token (SIAO_ENV=dev only)",
        description="Print a dev token signed with the data folder's key. In GraphiQL: "
        "siao token --user siao.75@demo.siao --header, and paste the line in the Headers tab.",
    )
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
    token.add_argument("--hours", type=positive_hours, default=12.0, help="how long it lasts (12)")
    token.add_argument(
        "--header",
        action="store_true",
        help='print {"Authorization": "Bearer <token>"}, for GraphiQL\'s Headers tab',
    )
    token.set_defaults(run=run, parser=token)


def positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    if not (math.isfinite(hours) and hours > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of hours, got {value}")
    return hours


def run(args: argparse.Namespace, extra: list[str], settings: Settings) -> int:
    if args.partner and not args.territory:
        args.parser.error("--partner needs --territory")
    if not settings.is_dev:
        _say("dev tokens exist only with SIAO_ENV=dev")
        return REFUSED
    grant = None
    if args.partner:
        grant = PartnerGrant(
            name=args.partner,
            scopes=frozenset(PartnerScope(s) for s in args.scope),
            territory=args.territory,
        )
    elif (refusal := login_refusal(settings, args.user)) is not None:
        _say(refusal)
        return REFUSED
    subject = args.user or f"partner:{args.partner}"
    token = mint_dev_token(settings, subject, ttl=timedelta(hours=args.hours), partner=grant)
    warn_if_another_folder(settings)
    print(json.dumps({"Authorization": f"Bearer {token}"}) if args.header else token)
    return 0


def login_refusal(settings: Settings, login: str) -> str | None:
    """Why the server would refuse this login (None: it would not, or it cannot be told,
    which is said as a warning)."""
    where = (
        "the database of DATABASE_URL"
        if settings.database_url is not None
        else f"the embedded database of {settings.data_dir}"
    )
    with existing_database(settings) as url:
        if url is None:
            _say(
                f"warning: no database in {settings.data_dir} yet (`siao serve` creates it): "
                "the login is not checked"
            )
            return None
        try:
            logins = asyncio.run(_logins(url))
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            reason = exc.__class__.__name__
            _say(f"warning: the login is not checked: {where} is unreachable ({reason})")
            return None
    if logins is None:
        _say(
            f"warning: {where} is not migrated yet (`siao serve` does it): the login is not checked"
        )
        return None
    active = logins.get(login)
    if active:
        return None
    if active is not None:
        return f"{login} is inactive in {where}: the server refuses its tokens"
    if not logins:
        return f"no user in {where}: load the demo (`siao serve --demo`) or create {login}"
    close = difflib.get_close_matches(login, [name for name, on in logins.items() if on], n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return f"unknown login {login!r} in {where}.{hint}"


async def _logins(url: str) -> dict[str, bool] | None:
    """Every login and whether it is active (None: no users table, not migrated)."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT to_regclass('users') IS NOT NULL")):
                return None
            rows = await conn.execute(select(User.login, User.active))
            return {login: active for login, active in rows}
    finally:
        await engine.dispose()


def warn_if_another_folder(settings: Settings) -> None:
    """A running dev server verifies tokens with its own data folder's key."""
    mine = settings.data_dir.resolve()
    servers = running_servers()
    if not servers or any(server.data_dir == mine for server in servers):
        return
    for server in servers:
        _say(
            f"warning: the dev server at {server.url} (pid {server.pid}) uses the data folder "
            f"{server.data_dir}, and this token is signed with the key of {mine}: it will "
            f"answer 401. Mint it with SIAO_DATA_DIR={server.data_dir}"
        )


def _say(message: str) -> None:
    print(f"siao token: {message}", file=sys.stderr)
