"""Which Python objects sit on a process's private (copy-on-write copied) pages.

Run inside a forked worker (fork_first_test.py --pages puts a conftest in the
suite that calls `report`). Private pages are the ones /proc/self/pagemap
marks present and exclusively mapped (bit 63 and bit 56, linux
Documentation/admin-guide/mm/pagemap.rst) in the [heap], anonymous and
libpython mappings. Every object reachable from the collector's lists
(gc.get_objects, then gc.get_referents down to strings and code) is laid on
the pages its bytes cover (id() is its address; a tracked object has a
16-byte GC header before it); each private page is charged to the type with
the most bytes on it. Pages without an object are allocator metadata, dict
key tables, frame stacks and the like. The walk allocates too, so the count
is a little higher than the worker's own.
"""

import collections
import gc
import json
import struct
import sys

_GC_HEADER = 16


def _private_pages():
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            name = parts[5] if len(parts) > 5 else "[anon]"
            if name in ("[anon]", "[heap]") or "libpython" in name:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                ranges.append((lo, hi, "libpython" if "libpython" in name else name))
    private = {}
    with open("/proc/self/pagemap", "rb") as pagemap:
        for lo, hi, name in ranges:
            pagemap.seek((lo >> 12) * 8)
            data = pagemap.read(((hi - lo) >> 12) * 8)
            for i, (entry,) in enumerate(struct.iter_unpack("<Q", data)):
                if entry >> 63 & 1 and entry >> 56 & 1:
                    private[(lo >> 12) + i] = name
    return private


def owners():
    private = _private_pages()
    seen = set()
    stack = gc.get_objects()
    on_page = collections.defaultdict(collections.Counter)
    leaves = (int, str, bytes, float)
    while stack:
        obj = stack.pop()
        addr = id(obj)
        if addr in seen:
            continue
        seen.add(addr)
        try:
            size = sys.getsizeof(obj)
        except Exception:
            size = 16
        start = addr - (_GC_HEADER if gc.is_tracked(obj) else 0)
        end = addr + size
        name = type(obj).__name__
        for page in range(start >> 12, ((end - 1) >> 12) + 1):
            if page in private:
                on_page[page][name] += min(end, (page + 1) << 12) - max(start, page << 12)
        if not isinstance(obj, leaves):
            stack.extend(gc.get_referents(obj))
    by_type = collections.Counter()
    for page, mapping in private.items():
        counts = on_page.get(page)
        by_type[counts.most_common(1)[0][0] if counts else f"(no object, {mapping})"] += 1
    return {"private_pages": len(private), "objects": len(seen), "by_type": by_type.most_common()}


def report(path):
    with open(path, "w") as f:
        json.dump(owners(), f)
