// Expected values are what Python 3.11 and pytest 7.2 print for the same input.
import { describe, expect, it } from "vitest";
import { binXmlEscape, pyCenter, xmlAttr } from "../../../src/reports/escape.js";
import { localIsoTimestamp, mangleTestAddress } from "../../../src/reports/junit.js";
import { sessionDuration } from "../../../src/reports/summary.js";

describe("pytest/Python compatible text helpers", () => {
  it("bin_xml_escape, including its astral-plane quirk", () => {
    expect(binXmlEscape("a\x07b\x7fc\x85d😀e\ufffe\x1b")).toBe(
      "a#x07b\x7fc\x85d#x1F600e#xFFFE#x1B",
    );
  });

  it("ElementTree attribute escaping", () => {
    expect(xmlAttr('a<b>&"c"\n\t\r')).toBe("a&lt;b&gt;&amp;&quot;c&quot;&#10;&#09;&#13;");
  });

  it("mangle_test_address", () => {
    expect(mangleTestAddress("sub/test_x.py::TestA::test_b[a/b::c]")).toEqual([
      "sub.test_x",
      "TestA",
      "test_b[a/b::c]",
    ]);
    expect(mangleTestAddress("test_mod.py")).toEqual(["test_mod"]);
  });

  it("str.center", () => {
    expect(pyCenter(" ab ", 9, "-")).toBe("--- ab --");
    expect(pyCenter(" a ", 10, "-")).toBe("--- a ----");
    expect(pyCenter("toolong", 3, "-")).toBe("toolong");
  });

  it("datetime.fromtimestamp().isoformat() at the recorded offset", () => {
    expect(localIsoTimestamp(1_700_000_000_500, 0)).toBe("2023-11-14T22:13:20.500000");
    expect(localIsoTimestamp(1_700_000_000_000, 60)).toBe("2023-11-14T23:13:20");
  });

  it("format_session_duration", () => {
    expect(sessionDuration(0.333)).toBe("0.33s");
    expect(sessionDuration(3725.5)).toBe("3725.50s (1:02:05)");
  });
});
