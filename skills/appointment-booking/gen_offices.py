#!/usr/bin/env python3
"""Generate offices.json, the offices the appointment-booking skill books at.

An office is a distinct 办理地点 (place of handling) of the bundled service
items that take online appointments (网上预约 = 是). Its id is derived from the
address alone (FNV-1a), so regenerating after the data changes keeps the ids of
unchanged offices, and bookings stored under them stay valid.

    python3 skills/appointment-booking/gen_offices.py           # rewrite offices.json
    python3 skills/appointment-booking/gen_offices.py --check   # exit 1 if it is stale

Standard library only. The skill's unit tests (`offices_json_is_up_to_date`)
repeat the derivation in Rust and fail when offices.json is stale.
"""

import argparse
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "knowledge-base" / "data" / "service-items"
OUT = HERE / "offices.json"

# 办理地点 values that name no place one could go to.
NOT_A_PLACE = ("无线下办理窗口", "所在地")


def office_id(address: str) -> str:
    """`of-` and the FNV-1a 32-bit hash of the address's UTF-8 bytes."""
    h = 0x811C9DC5
    for byte in address.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"of-{h:08x}"


def bookable_address(record: dict):
    """The record's address when it can be booked at, else None."""
    if record.get("网上预约") != "是":
        return None
    address = (record.get("办理地点") or "").strip()
    if not address or any(word in address for word in NOT_A_PLACE):
        return None
    return address


def offices(records):
    by_address = collections.defaultdict(list)
    for r in records:
        address = bookable_address(r)
        if address is not None and r.get("事项名称"):
            by_address[address].append(r)
    result = []
    ids = {}
    for address, items in by_address.items():
        oid = office_id(address)
        if oid in ids:
            sys.exit(f"office id collision: {oid} for {ids[oid]!r} and {address!r}")
        ids[oid] = address
        agencies = collections.Counter((r.get("实施主体") or "").strip() for r in items)
        # The most frequent agency; ties go to the first in sort order.
        agency = min(agencies, key=lambda a: (-agencies[a], a))
        result.append(
            {
                "id": oid,
                "agency": agency,
                "address": address,
                "items": sorted([r["id"], r["事项名称"].strip()] for r in items),
            }
        )
    result.sort(key=lambda o: (o["agency"], o["address"]))
    return result


def render(office_list) -> str:
    """JSON with one item per line, so that diffs stay readable."""
    dump = lambda v: json.dumps(v, ensure_ascii=False)
    out = [
        "{",
        f' "generated_by": {dump("skills/appointment-booking/gen_offices.py")},',
        f' "source": {dump("knowledge-base/data/service-items/*.jsonl")},',
        ' "offices": [',
    ]
    for i, o in enumerate(office_list):
        out.append(
            f'  {{"id": {dump(o["id"])}, "agency": {dump(o["agency"])}, "address": {dump(o["address"])}, "items": ['
        )
        out.append(",\n".join(f"   {dump(item)}" for item in o["items"]))
        out.append("  ]}" + ("," if i + 1 < len(office_list) else ""))
    out += [" ]", "}", ""]
    return "\n".join(out)


def read_records():
    for path in sorted(DATA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    if not record.get("deleted"):
                        yield record


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if offices.json is not up to date")
    args = parser.parse_args()
    text = render(offices(read_records()))
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is stale: run {Path(__file__).name}")
        print(f"{OUT.name} is up to date")
        return
    OUT.write_text(text, encoding="utf-8")
    count = text.count('"id": "of-')
    print(f"wrote {OUT} ({count} offices)")


if __name__ == "__main__":
    main()
