"""The aiochris side of bench/chris_api (run from the aiochris venv): list a folder's files and
upload small files, timed. usage: python _aiochris_calls.py URL USER PASSWORD LOCAL_DIR RUN
Prints one JSON object: the seconds of the listing and of the uploads, and the files listed
(the login is not timed)."""

import asyncio
import json
import sys
import time
from pathlib import Path

from aiochris import ChrisClient, Search, acollect
from aiochris.models.logged_in import File


async def main(url: str, user: str, password: str, local: Path, run: str) -> dict:
    small = sorted(local.iterdir())
    chris = await ChrisClient.from_login(url=url, username=user, password=password)
    async with chris:
        s = time.perf_counter()
        files = await acollect(Search[File](base_url=chris.collection_links.uploadedfiles, subpath="search/",
                                            params={"fname": f"{user}/uploads/list/", "limit": 500},
                                            client=chris, Item=File))
        listed = time.perf_counter() - s
        s = time.perf_counter()
        for f in small:
            await chris.upload_file(f, f"aio-{run}/{f.name}")
        return {"list": listed, "upload": time.perf_counter() - s, "listed": len(files)}


if __name__ == "__main__":
    url, user, password, local, run = sys.argv[1:6]
    print(json.dumps(asyncio.run(main(url, user, password, Path(local), run))))
