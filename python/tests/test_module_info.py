import ast
import textwrap

import pytest

from kiln_harness.module_info import analyze, analyze_source, resolve_relative, signature_of


def info(source, module="mod", is_package=False):
    return analyze_source(textwrap.dedent(source), module, is_package)


def imports(source, module="mod", is_package=False):
    return info(source, module, is_package)["imports"]


def names(source, module="mod", is_package=False):
    return {n["name"]: n for n in info(source, module, is_package)["names"]}


# -- relative resolution ----------------------------------------------------


@pytest.mark.parametrize(
    "module, is_package, level, target, expected",
    [
        ("pkg.sub.m", False, 1, "a", "pkg.sub.a"),
        ("pkg.sub.m", False, 2, "a", "pkg.a"),
        ("pkg.sub.m", False, 2, None, "pkg"),
        ("pkg.sub.m", False, 3, None, None),
        ("pkg.sub", True, 1, "a", "pkg.sub.a"),
        ("pkg.sub", True, 2, "a", "pkg.a"),
        ("pkg", True, 1, None, "pkg"),
        ("pkg", True, 2, None, None),
        ("top", False, 1, "a", None),
        ("x", False, 0, "a.b", "a.b"),
    ],
)
def test_resolve_relative(module, is_package, level, target, expected):
    assert resolve_relative(module, is_package, level, target) == expected


# -- imports ------------------------------------------------------------------


def test_plain_imports_are_absolute_with_full_dotted_name():
    refs = imports("import os\nimport a.b.c as d, json\n")
    assert refs == [
        {"module": "os", "line": 1, "level": 0, "conditional": False, "guarded": False},
        {"module": "a.b.c", "line": 2, "level": 0, "conditional": False, "guarded": False},
        {"module": "json", "line": 2, "level": 0, "conditional": False, "guarded": False},
    ]


def test_from_imports_resolve_relative_to_the_module():
    refs = imports("from ..a import b\nfrom . import c, d\nfrom .e.f import *\n", "pkg.sub.m")
    assert [(r["module"], r["names"], r["level"]) for r in refs] == [
        ("pkg.a", ["b"], 2),
        ("pkg.sub", ["c", "d"], 1),
        ("pkg.sub.e.f", ["*"], 1),
    ]


def test_relative_imports_in_a_package_init_resolve_against_the_package_itself():
    refs = imports("from . import a\nfrom .b import c\nfrom .. import up\n", "pkg.sub", True)
    assert [r["module"] for r in refs] == ["pkg.sub", "pkg.sub.b", "pkg"]


def test_unresolvable_relative_imports_keep_their_dots():
    refs = imports("from . import a\nfrom ..x import y\n", "top")
    assert [r["module"] for r in refs] == [".", "..x"]
    refs = imports("from ...x import y\n", "pkg.m")
    assert refs[0]["module"] == "...x"
    assert refs[0]["level"] == 3


def test_absolute_from_import_keeps_names_and_aliases_do_not_matter():
    [ref] = imports("from a.b import c as d, e\n")
    assert ref == {
        "module": "a.b",
        "names": ["c", "e"],
        "line": 1,
        "level": 0,
        "conditional": False,
        "guarded": False,
    }


def test_imports_inside_functions_are_conditional_but_not_guarded():
    [ref] = imports(
        """
        def f():
            import lazy
        """
    )
    assert ref["module"] == "lazy"
    assert ref["conditional"] is True
    assert ref["guarded"] is False


def test_imports_in_try_body_with_handlers_are_guarded():
    refs = imports(
        """
        try:
            import fast
        except ImportError:
            import slow as fast
        else:
            import extra
        finally:
            import always
        """
    )
    by_name = {r["module"]: r for r in refs}
    assert (by_name["fast"]["conditional"], by_name["fast"]["guarded"]) == (True, True)
    assert (by_name["slow"]["conditional"], by_name["slow"]["guarded"]) == (True, False)
    assert (by_name["extra"]["conditional"], by_name["extra"]["guarded"]) == (True, False)
    assert (by_name["always"]["conditional"], by_name["always"]["guarded"]) == (False, False)


def test_try_finally_without_handlers_does_not_guard():
    [ref] = imports("try:\n    import x\nfinally:\n    pass\n")
    assert ref["conditional"] is True
    assert ref["guarded"] is False


def test_imports_under_if_loops_with_and_nested_blocks_are_conditional():
    refs = imports(
        """
        import sys
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            import tomli
        for _ in range(1):
            import inloop
        while False:
            import inwhile
        with open(__file__):
            import inwith
        class K:
            import inclass
            def m(self):
                import inmethod
        """
    )
    flags = {r["module"]: r["conditional"] for r in refs}
    assert flags == {
        "sys": False,
        "tomllib": True,
        "tomli": True,
        "inloop": True,
        "inwhile": True,
        "inwith": True,
        "inclass": False,
        "inmethod": True,
    }


def test_nested_function_inside_try_stays_guarded():
    [ref] = imports(
        """
        try:
            def f():
                from .x import y
        except Exception:
            pass
        """,
        "pkg.m",
    )
    assert ref["module"] == "pkg.x"
    assert ref["guarded"] is True


def test_imports_are_in_source_order_with_lines():
    refs = imports("import a\n\n\ndef f():\n    import b\nimport c\n")
    assert [(r["module"], r["line"]) for r in refs] == [("a", 1), ("b", 5), ("c", 6)]


@pytest.mark.skipif(not hasattr(ast, "Match"), reason="match needs Python 3.10")
def test_imports_in_match_cases_are_conditional():
    refs = imports("match 1:\n    case 1:\n        import one\n    case _:\n        pass\n")
    assert refs[0]["conditional"] is True


# -- names ------------------------------------------------------------------------


def test_public_names_with_kinds_lines_and_signatures():
    found = names(
        """
        import os
        import a.b.c
        import x.y as z
        from m import n, o as p
        CONSTANT = 1
        _private = 2
        def f(a, b=1, *args, c, **kw):
            pass
        async def g(x, /, y=None, *, z="s"):
            pass
        class C:
            def method(self):
                pass
        """
    )
    assert set(found) == {"os", "a", "z", "n", "p", "CONSTANT", "f", "g", "C"}
    assert found["os"]["kind"] == "import"
    assert found["a"] == {"name": "a", "kind": "import", "line": 3}
    assert found["CONSTANT"] == {"name": "CONSTANT", "kind": "variable", "line": 6}
    assert found["f"] == {
        "name": "f",
        "kind": "function",
        "line": 8,
        "signature": "(a, b=1, *args, c, **kw)",
    }
    assert found["g"]["signature"] == "(x, /, y=None, *, z='s')"
    assert found["C"] == {"name": "C", "kind": "class", "line": 12}


def test_names_are_ordered_by_line():
    result = info("b = 1\na = 2\ndef c(): pass\n")
    assert [n["name"] for n in result["names"]] == ["b", "a", "c"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ("", "()"),
        ("a, b", "(a, b)"),
        ("a, b=2", "(a, b=2)"),
        ("a=[], b=lambda: 1, c=-1", "(a=..., b=..., c=-1)"),
        ("*, key", "(*, key)"),
        ("*args, **kwargs", "(*args, **kwargs)"),
        ("a, /, b", "(a, /, b)"),
        ("a=1, /, b=2, *c, d, e=os.sep, **f", "(a=1, /, b=2, *c, d, e=os.sep, **f)"),
        ("x: int = 3, *, y: str", "(x=3, *, y)"),
    ],
)
def test_signatures(params, expected):
    tree = ast.parse(f"def f({params}): pass")
    assert signature_of(tree.body[0].args) == expected


def test_long_default_is_elided():
    tree = ast.parse(f"def f(a={'x' * 40!r}): pass")
    assert signature_of(tree.body[0].args) == "(a=...)"


def test_dunder_all_literal_selects_public_names():
    found = names(
        """
        __all__ = ["f", "_hidden", "C"]
        def f(): pass
        def g(): pass
        def _hidden(): pass
        class C: pass
        """
    )
    assert list(found) == ["f", "_hidden", "C"]
    assert found["_hidden"]["kind"] == "function"


def test_dunder_all_tuple_and_augmented_forms():
    found = names(
        """
        __all__ = ("a",)
        __all__ += ["b"]
        __all__.extend(["c"])
        __all__.append("d")
        a = b = c = d = e = 1
        """
    )
    assert list(found) == ["a", "b", "c", "d"]


def test_dunder_all_names_not_bound_are_submodules_in_a_package():
    found = names('__all__ = ["sub", "x"]\nx = 1\n', "pkg", True)
    assert found["sub"] == {"name": "sub", "kind": "submodule", "line": 1}
    assert found["x"]["kind"] == "variable"


def test_non_literal_dunder_all_falls_back_to_underscore_rule():
    found = names("__all__ = [n for n in dir()]\nvisible = 1\n_hidden = 2\n")
    assert "visible" in found
    assert "_hidden" not in found


def test_all_names_include_private_and_block_bindings():
    result = info(
        """
        import a.b
        from m import *
        _p = 1
        x, (y, *z) = 1, (2, 3)
        try:
            import json
        except ImportError:
            json = None
        if True:
            def cond(): pass
        for i in range(2):
            pass
        with open(__file__) as (fh):
            pass
        w: int = 3
        declared_only: int
        counter = 0
        counter += 1
        if (walrus := 5):
            pass
        [inner for inner in range(3)]
        def setter():
            global late
            late = 1
        try:
            pass
        except Exception as err:
            pass
        """
    )
    assert result["allNames"] == sorted(
        [
            "a",
            "_p",
            "x",
            "y",
            "z",
            "json",
            "cond",
            "i",
            "fh",
            "w",
            "counter",
            "walrus",
            "setter",
            "late",
        ]
    )


def test_dynamic_names_from_module_getattr():
    assert info("def __getattr__(name):\n    raise AttributeError(name)\n")["dynamicNames"]
    assert not info("class C:\n    def __getattr__(self, n): pass\n")["dynamicNames"]
    assert not info("x = 1\n")["dynamicNames"]


@pytest.mark.parametrize(
    "source",
    [
        "globals()['x'] = 1\n",
        "globals().update(a=1)\n",
        "vars()['y'] = 2\n",
        "exec('z = 1')\n",
        "import sys\nsys.modules[__name__] = object()\n",
    ],
)
def test_names_opaque_when_the_module_edits_its_namespace(source):
    assert info(source)["namesOpaque"] is True


def test_names_not_opaque_for_ordinary_code():
    assert info("import sys\nx = len(sys.argv)\ndef f():\n    return globals()\n")[
        "namesOpaque"
    ] is False


def test_later_binding_wins_for_kind_and_line():
    found = names("def f(a): pass\nf = 1\n")
    assert found["f"] == {"name": "f", "kind": "variable", "line": 2}


def test_analyze_accepts_a_tree_and_bytes_with_coding_cookie():
    source = "# -*- coding: latin-1 -*-\ncaf\xe9 = 'd\xe9j\xe0'\n".encode("latin-1")
    result = analyze_source(source, "m")
    assert result["allNames"] == ["caf\xe9"]
    assert analyze(ast.parse("q = 1"), "m")["allNames"] == ["q"]


def test_syntax_errors_propagate():
    with pytest.raises(SyntaxError):
        analyze_source(b"def (:\n", "m")


def test_result_is_json_serializable():
    import json

    result = info("import a\nfrom .b import c\ndef f(x=1): pass\n", "pkg.m")
    assert json.loads(json.dumps(result)) == result


def test_self_relative_imports_in_a_package_bind_submodules():
    result = info("from . import sub, other as alias\nfrom .impl import run\n", "pkg", True)
    kinds = {n["name"]: n["kind"] for n in result["names"]}
    assert kinds == {"sub": "submodule", "alias": "import", "run": "import"}
    assert result["allNames"] == ["alias", "run"]
    # Rebinding the name makes it the package's own.
    result = info("from . import sub\nsub = 1\n", "pkg", True)
    assert result["allNames"] == ["sub"]


@pytest.mark.parametrize(
    "source",
    [
        "import importlib\nm = importlib.import_module('plugins.' + name)\n",
        "from importlib import import_module\ndef f(n):\n    return import_module(n)\n",
        "def f(n):\n    return __import__(n)\n",
        "import importlib\nimportlib.import_module(name=f'x{1}')\n",
    ],
)
def test_computed_imports_anywhere_in_the_module(source):
    assert info(source)["computedImports"] is True


@pytest.mark.parametrize(
    "source",
    [
        "import importlib\nm = importlib.import_module('plugins.p0')\n",
        "x = __import__('os')\n",
        "import importlib\n",
        "def import_modules(n):\n    return n\n",
    ],
)
def test_no_computed_imports_for_literal_names(source):
    assert info(source)["computedImports"] is False


def test_computed_imports_walk_skipped_when_the_source_never_mentions_them():
    tree = ast.parse("m = importlib.import_module(name)\n")
    assert analyze(tree, "m", may_import_computed=False)["computedImports"] is False
    assert analyze(tree, "m")["computedImports"] is True
