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


def test_summary_text_of_a_warning_with_a_source_is_pytests():
    # pytest's warning_record_to_str adds the tracemalloc hint for a warning
    # that has a source object (an unclosed file, a never-awaited coroutine).
    from _pytest.warnings import warning_record_to_str

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("unclosed thing", ResourceWarning, source=object())
    original = caught[0]
    replayed = unserialize_warning(serialize_warning(original))
    assert "Enable tracemalloc" in warning_record_to_str(original)
    assert warning_record_to_str(replayed) == warning_record_to_str(original)
    plain = unserialize_warning(serialize_warning(_record(UserWarning, "x")))
    assert plain.source is None
