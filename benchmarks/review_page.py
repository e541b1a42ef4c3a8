"""How fast the review screen shows a page of proposals: the request page, the source beside the
first proposal and its page picture, as a signed-in approver's browser asks for them, through a
real uvicorn server on the loopback.

    python3 -m uv run python benchmarks/review_page.py [--proposals 25] [--rounds 5]

Builds ``--proposals`` invoice PDFs (the sample layouts, numbers varied) and a pending request for
them in a fresh SQLite store, serves the app (its reader processes started, as `opsgate review
serve` starts them), signs in with a local account, then measures: the page with its first
preview cold (no picture cached yet) and warm (median of ``--rounds``), the page's HTML alone,
and stepping through every proposal's source and picture (what a person reading them all asks
for) cold and warm. Prints the data size and seconds. Goal: the page with its preview under 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PASSWORD = "benchmark passphrase"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--proposals", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="opsgate-bench-"))
    os.environ["OPSGATE_DATA_DIR"] = str(scratch / "data")

    import httpx
    import uvicorn

    from benchmarks.review_previews import make_page
    from opsgate.governance import identity, requests, runs
    from opsgate.learning.governing import governing
    from opsgate.models import Proposal
    from opsgate.web.app import create_app
    from opsgate.writers.payables import PayablePosting

    documents = make_page(scratch, args.proposals)
    run = runs.start_run(governing("invoice_extraction"), "benchmark")
    proposals = [
        Proposal(
            workflow=run.workflow,
            source=str(path),
            case_type="invoice",
            tool="payables.post",
            instruction_version="rules-v1",
            confidence={name: 0.9 for name in values},
            payload=PayablePosting(
                vendor_name=str(values["vendor_name"]),
                invoice_number=str(values["invoice_number"]),
                invoice_date=date.fromisoformat(str(values["invoice_date"])),
                currency=str(values["currency"]),
                subtotal=Decimal(str(values["subtotal"])),
                tax_total=Decimal(str(values["tax"])),
                total=Decimal(str(values["total"])),
                source=str(path),
            ).model_dump(mode="json"),
        )
        for path, values in documents
    ]
    runs.check_policy(run, proposals)
    request = requests.open_request(run.workflow, run.id, "benchmark", "bench-1", proposals, requests.deadline_in(3600))
    identity.add_user("alice", PASSWORD, by="benchmark")

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{listening.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(), proxy_headers=False, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)

    with httpx.Client(base_url=base) as browser:
        token = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text).group(1)  # type: ignore[union-attr]
        browser.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token})

        def page_with_preview(index: int = 0) -> float:
            start = time.perf_counter()
            html = browser.get(f"/requests/{request.id}").text
            sources = re.findall(r'data-source="([^"]+)"', html)
            fragment = browser.get(sources[index]).text
            for image in re.findall(r'<img src="([^"]+)"', fragment)[:1]:
                assert browser.get(image.replace("&amp;", "&")).status_code == 200
            return time.perf_counter() - start

        def every_source() -> float:
            start = time.perf_counter()
            html = browser.get(f"/requests/{request.id}").text
            for source in re.findall(r'data-source="([^"]+)"', html):
                for image in re.findall(r'<img src="([^"]+)"', browser.get(source).text)[:1]:
                    assert browser.get(image.replace("&amp;", "&")).status_code == 200
            return time.perf_counter() - start

        def html_only() -> float:
            start = time.perf_counter()
            assert browser.get(f"/requests/{request.id}").status_code == 200
            return time.perf_counter() - start

        cold = page_with_preview()
        warm = statistics.median(page_with_preview() for _ in range(args.rounds))
        html = statistics.median(html_only() for _ in range(args.rounds))
        all_cold = every_source()
        all_warm = statistics.median(every_source() for _ in range(args.rounds))
    server.should_exit = True

    size = sum(path.stat().st_size for path, _ in documents)
    print(f"proposals={args.proposals} documents_bytes={size} store=sqlite rounds={args.rounds}")
    print(f"page + first source + its picture, cold (nothing cached): seconds={cold:.3f}")
    print(f"page + first source + its picture, warm (median):        seconds={warm:.3f}")
    print(f"page HTML alone (median):                                seconds={html:.3f}")
    print(f"page + every source + every picture, cold:               seconds={all_cold:.3f}")
    print(f"page + every source + every picture, warm (median):      seconds={all_warm:.3f}")


if __name__ == "__main__":
    main()
