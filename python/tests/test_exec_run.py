"""exec_run: python -c semantics for the exec service's code (issue 13)."""

import sys

from kiln_harness import exec_run


def run(source):
    outcome = exec_run.Outcome()
    saved = sys.modules["__main__"]
    try:
        exec_run.run_code(source, outcome)
    finally:
        sys.modules["__main__"] = saved
    return outcome


def test_last_expression_is_the_result():
    outcome = run("x = 2\nx * 21")
    assert outcome.has_result and outcome.result == 42 and outcome.exit_code == 0


def test_none_and_statements_give_no_result():
    assert not run("None").has_result
    assert not run("x = 1").has_result


def test_code_runs_as_main():
    assert run("__name__").result == "__main__"


def test_system_exit_like_python_c(capsys):
    assert run("import sys; sys.exit(4)").exit_code == 4
    assert run("raise SystemExit").exit_code == 0
    assert run("import sys; sys.exit(-1)").exit_code == 255
    assert run("import sys; sys.exit('bye')").exit_code == 1
    assert capsys.readouterr().err == "bye\n"


def test_error_has_source_lines_and_no_harness_frames():
    outcome = run("def f():\n    raise ValueError('x')\nf()")
    assert outcome.exit_code == 1
    assert outcome.error["type"] == "ValueError"
    assert "    raise ValueError('x')" in outcome.error["traceback"]
    assert "kiln_harness" not in outcome.error["traceback"]


def test_syntax_error_is_reported():
    outcome = run("def (")
    assert outcome.error["type"] == "SyntaxError"
    assert outcome.exit_code == 1


def test_memory_error_is_a_limit():
    outcome = run("raise MemoryError")
    assert outcome.limits_hit == ["memory"]


def test_to_result_json_or_repr():
    assert exec_run.to_result({"a": [1, 2.5, None]}) == ({"a": [1, 2.5, None]}, "json")
    assert exec_run.to_result((1, 2)) == ("(1, 2)", "repr")
    assert exec_run.to_result(float("nan")) == ("nan", "repr")
    assert exec_run.to_result({1: "a"}) == ("{1: 'a'}", "repr")
