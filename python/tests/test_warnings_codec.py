import warnings

from kiln_harness.warnings_codec import serialize_warning, unserialize_warning


def _record(category, text):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(text, category)
    return caught[0]


def test_builtin_category_survives():
    data = serialize_warning(_record(DeprecationWarning, "old api"))
    msg = unserialize_warning(data)
    assert msg.category is DeprecationWarning
    assert str(msg.message) == "old api"
    assert msg.filename == __file__
    assert msg.lineno > 0


def test_unknown_category_falls_back_to_userwarning():
    data = serialize_warning(_record(UserWarning, "x"))
    data["categoryModule"] = "no_such_module_kiln"
    msg = unserialize_warning(data)
    assert msg.category is UserWarning
