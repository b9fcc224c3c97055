"""`python .ci/pgdb.py SERVER_URL NAME create|drop`: a fresh database for the CI run."""

import asyncio
import sys

import asyncpg


async def main(url: str, name: str, action: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if action == "create":
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
