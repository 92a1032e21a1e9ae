"""One upload with the real aiochris (run by tests/api/test_cube_input.py from its own venv).

usage: python aiochris_upload.py URL USERNAME PASSWORD LOCAL_FILE UPLOAD_PATH
(USERNAME ``-``: PASSWORD is a token, used with ``ChrisClient.from_token``).
Prints ``uploaded <fname>``, or the error's class name, status and message.
"""

import asyncio
import sys
from pathlib import Path

from aiochris import ChrisClient
from aiochris.errors import BadRequestError


async def main(url: str, username: str, password: str, local: Path, upload_path: str) -> str:
    if username == "-":
        chris = await ChrisClient.from_token(url=url, token=password)
    else:
        chris = await ChrisClient.from_login(url=url, username=username, password=password)
    async with chris:
        try:
            up = await chris.upload_file(local, upload_path)
        except BadRequestError as e:
            return f"{type(e).__name__} {e.status} {e.message}"
        return f"uploaded {up.fname}"


if __name__ == "__main__":
    url, username, password, local, upload_path = sys.argv[1:6]
    print(asyncio.run(main(url, username, password, Path(local), upload_path)))
