"""Warnings recorded in a worker, carried to the zygote's warnings summary.

The same job as xdist's serialize_warning_message: the category travels as
module + qualified name and is re-imported if possible, else UserWarning.
"""

import importlib
import warnings


def serialize_warning(msg):
    category = msg.category
    return {
        "message": str(msg.message),
        "categoryModule": getattr(category, "__module__", "builtins"),
        "categoryName": getattr(category, "__qualname__", "UserWarning"),
        "filename": msg.filename,
        "lineno": msg.lineno,
        # The source object itself can't travel; whether there was one can.
        "hasSource": getattr(msg, "source", None) is not None,
    }


class _UntracedSource:
    """Stands in for a warning's source object (the unclosed file, the
    never-awaited coroutine) on the zygote's side.

    pytest's warning_record_to_str appends "Enable tracemalloc to get
    traceback where the object was allocated" to every warning that has a
    source, when tracemalloc knows no traceback for it; this object was never
    traced, so the summary text is the one plain pytest prints.
    """


def _category(module, name):
    try:
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, type) and issubclass(obj, Warning):
            return obj
    except Exception:
        pass
    return UserWarning


def unserialize_warning(data):
    category = _category(data.get("categoryModule", "builtins"), data.get("categoryName", ""))
    try:
        message = category(data["message"])
    except Exception:
        message = UserWarning(data["message"])
    return warnings.WarningMessage(
        message=message,
        category=category,
        filename=data.get("filename", "?"),
        lineno=int(data.get("lineno") or 0),
        source=_UntracedSource() if data.get("hasSource") else None,
    )
