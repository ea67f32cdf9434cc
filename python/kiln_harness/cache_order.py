"""What pytest's cache plugins decided about the order of this run.

Selection (`--lf`, `--sw`, `--lfnf`) happens during collection in the zygote,
in pytest's own cacheprovider and stepwise plugins, so `session.items` is
already what pytest would run. The order is the supervisor's to keep:

- `--ff` (LFPlugin) moves the previous failures to the front; the rest keeps
  collection order.
- `--nf` (NFPlugin) moves tests not in `cache/nodeids` to the front and sorts
  both parts by file mtime, newest first: the whole order is deliberate.
- `--sw` (StepwisePlugin) stops at the first failure and starts there next
  time: that only means something when items run in collection order.

`ordering_hints` tells the supervisor how many leading items pytest put first
and whether the order of the rest must be kept (see src/scheduler/plan.ts).
`settle_stepwise` keeps `--sw` coherent when several workers ran at once.
"""


def _option(config, name):
    # With `-p no:cacheprovider` (or no stepwise plugin) the options do not exist.
    try:
        return config.getoption(name)
    except ValueError:
        return None


def _cache_get(config, key, default):
    cache = getattr(config, "cache", None)
    if cache is None:
        return default
    try:
        return cache.get(key, default)
    except Exception:  # an unreadable cache entry: pytest reads it as missing too
        return default


def _leading(items, predicate):
    count = 0
    for item in items:
        if not predicate(item.nodeid):
            break
        count += 1
    return count


def ordering_hints(config, items):
    """{"first": N, "keep": bool, "by": str|None} for the run:ready message.

    Computed from the same cache entries the plugins read: both are written
    only at pytest_sessionfinish, so at the start of the run loop they still
    hold the previous run's values.
    """
    if _option(config, "newfirst"):
        # NFPlugin's hookwrapper runs last among the reorderings (tryfirst
        # wrapper, after the yield), so with --ff and --nf its order wins.
        known = set(_cache_get(config, "cache/nodeids", []) or [])
        return {"first": _leading(items, lambda n: n not in known), "keep": True, "by": "newfirst"}
    if _option(config, "failedfirst") and not _option(config, "lf"):
        failed = _cache_get(config, "cache/lastfailed", {}) or {}
        return {"first": _leading(items, lambda n: n in failed), "keep": False, "by": "failedfirst"}
    if _option(config, "stepwise"):
        return {"first": 0, "keep": True, "by": "stepwise"}
    return {"first": 0, "keep": False, "by": None}


class _StepwiseState:
    """The stepwise plugin's "last failed" node id, across pytest versions:
    `cached_info.last_failed` since pytest 8.4, `lastfailed` before."""

    def __init__(self, plugin):
        self.plugin = plugin

    def get(self):
        info = getattr(self.plugin, "cached_info", None)
        if info is not None:
            return info.last_failed
        return getattr(self.plugin, "lastfailed", None)

    def set(self, nodeid):
        info = getattr(self.plugin, "cached_info", None)
        if info is not None:
            info.last_failed = nodeid
        else:
            self.plugin.lastfailed = nodeid


def skipped_failure(config, failed_reports):
    """The failed test `--sw-skip` let through, from the failed reports in
    the order they came: StepwisePlugin lets the first failed *report*
    through, and a second failed report of the same test (setup, then
    teardown) stops."""
    if not failed_reports or not config.getoption("stepwise_skip"):
        return None
    first = failed_reports[0]
    return first if failed_reports.count(first) == 1 else None


def settle_stepwise(config, items, reported, failed, skipped_failure):
    """After a `--sw` run with several workers, point "last failed" at the
    earliest item, in collection order, that failed or never ran.

    Serial pytest stops at the first failure, so everything before it passed
    and the next run starts from it (_pytest/stepwise.py). With several
    workers, tests after it in collection order may already have finished,
    tests before it may still have been queued when the stop came, and the
    plugin keeps the *last reported* failure. Starting the next run at the
    earliest failed-or-not-run item keeps the promise: everything deselected
    next time has passed. `skipped_failure` is the failure `--sw-skip` let
    through, which pytest also does not stop at.

    Returns the node id now recorded, or None when nothing changed.
    """
    plugin = config.pluginmanager.get_plugin("stepwiseplugin")
    if plugin is None:
        return None
    state = _StepwiseState(plugin)
    current = state.get()
    if current is None:
        # No stop happened (every test ran and none failed past --sw-skip):
        # pytest's own record is right.
        return None
    for item in items:
        nodeid = item.nodeid
        if nodeid not in reported or (nodeid in failed and nodeid != skipped_failure):
            if nodeid != current:
                state.set(nodeid)
                return nodeid
            return None
    return None
