"""Kiln's Python side: the zygote, its workers and the pytest bridge.

Shipped inside the npm package and imported by the interpreter that runs the
user's tests; it must not depend on anything but the standard library and
pytest.
"""
