"""Floor vs the engine's capture stage on saved pages, one loop per process: for callgrind.

``sync_bench.py`` times both on live sandbox pages, by wall clock, under whatever load the
machine has. This script first saves the decoded pages once (``dump``), then runs one loop
``--loops`` times on them (``run``), each on a fresh SQLite store, so that
``valgrind --tool=callgrind`` counts only instructions. Setup (imports, migrations, loading the
pages) is the same for every loop count: subtract a 1-loop run from a 2-loop run to get one
warm loop's instructions.

    .venv/bin/python bench/capture_profile.py dump /tmp/pages.pkl --records 2000
    valgrind --tool=callgrind --callgrind-out-file=/tmp/floor.out \
        .venv/bin/python bench/capture_profile.py run /tmp/pages.pkl floor --loops 2
    .venv/bin/python bench/capture_profile.py compare /tmp/pages.pkl   # instructions, both
"""

from __future__ import annotations

import argparse
import logging
import pickle
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench import sandbox_size
from sync_bench_runs import engine_capture, floor_loop, read_pages

from connectors.base import Page
from mappings.loader import load_mapping_set
from mappings.mapping_set import EntityMapping
from sync.cli.sandboxes import Sandboxes
from sync.store import Store

LOOPS = {"floor": floor_loop, "capture": engine_capture}


def dump(path: Path, records: int) -> None:
    """Read every source page of ~``records`` records from a sandbox and pickle them."""
    with Sandboxes(sandbox_size(records)) as sandboxes:
        pages = read_pages(load_mapping_set(), sandboxes.settings_document("sqlite://"))
    saved = [(mapping.entity, page) for mapping, page in pages]
    path.write_bytes(pickle.dumps(saved))
    print(f"{sum(len(page.records) for _, page in saved):,} records in {len(saved)} pages")


def load(path: Path) -> list[tuple[EntityMapping, Page]]:
    """The saved pages with this process's compiled mappings."""
    source = load_mapping_set().system("salesforce").entities
    saved: list[tuple[str, Page]] = pickle.loads(path.read_bytes())  # our own file
    return [(source[entity], page) for entity, page in saved]


def run(path: Path, loop: str, loops: int) -> None:
    """Run ``loop`` ``loops`` times on fresh stores; print records stored and CPU seconds."""
    pages = load(path)
    with tempfile.TemporaryDirectory() as folder:
        stores = [Store(f"sqlite:///{Path(folder) / f'{loop}-{n}.db'}") for n in range(loops)]
        for store in stores:
            cpu = time.process_time()
            stored = LOOPS[loop](pages, store)
            print(f"{loop}: {stored} records, {time.process_time() - cpu:.3f} s CPU")
            store.close()


def _instructions(path: Path, loop: str, loops: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "run", str(path), loop, "--loops", str(loops)],
            check=True, capture_output=True,
        )  # fmt: skip
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
    if summary is None:
        raise RuntimeError("callgrind wrote no summary")
    return int(summary.group(1))


def compare(path: Path, only: str | None = None) -> None:
    """One warm loop's instructions per record for floor and capture, and their ratio."""
    records = sum(len(page.records) for _, page in load(path))
    per_record = {}
    for loop in [only] if only else LOOPS:
        one, two = _instructions(path, loop, 1), _instructions(path, loop, 2)
        per_record[loop] = (two - one) / records
        print(f"{loop}: {per_record[loop]:,.0f} instructions per record ({records:,} records)")
    if len(per_record) == 2:
        ratio = per_record["floor"] / per_record["capture"]
        print(f"capture speed / floor speed: {ratio:.3f}x")


def main() -> None:
    """dump | run | compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="save a sandbox's decoded pages")
    dumping.add_argument("pages", type=Path)
    dumping.add_argument("--records", type=int, default=2000)
    running = commands.add_parser("run", help="run one loop on saved pages")
    running.add_argument("pages", type=Path)
    running.add_argument("loop", choices=sorted(LOOPS))
    running.add_argument("--loops", type=int, default=1)
    comparing = commands.add_parser("compare", help="callgrind instructions of both loops")
    comparing.add_argument("pages", type=Path)
    comparing.add_argument("--only", choices=sorted(LOOPS), help="count one loop only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the seed's bad records are rejected by design
    if args.command == "dump":
        dump(args.pages, args.records)
    elif args.command == "run":
        run(args.pages, args.loop, args.loops)
    else:
        compare(args.pages, args.only)


if __name__ == "__main__":
    main()
