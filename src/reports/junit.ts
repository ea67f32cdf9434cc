// JUnit XML as pytest's own junitxml plugin writes it (junit_family=xunit2,
// junit_logging=all): this replays pytest's LogXML state machine
// (_pytest/junitxml.py) over the recorded phases, so the counts, the
// testcase split on call-failure-plus-teardown-error and the text are
// pytest's. Times come from the record, never from the clock.
import type { CollectRecord, ResultRecord } from "../events/records.js";
import { binXmlEscape, fixed, pyCenter, xmlAttr, xmlText } from "./escape.js";
import type { ReportContext, ReportModule } from "./module.js";

interface XmlNode {
  tag: string;
  attrs: [string, string][];
  text?: string;
}

class NodeReporter {
  attrs: [string, string][] = [];
  duration = 0;
  properties: [string, string][] = [];
  nodes: XmlNode[] = [];
}

type Stat = "error" | "passed" | "failure" | "skipped";

/** pytest's mangle_test_address. */
export function mangleTestAddress(address: string): string[] {
  const bracket = address.indexOf("[");
  const path = bracket < 0 ? address : address.slice(0, bracket);
  const params = bracket < 0 ? "" : address.slice(bracket);
  const names = path.split("::");
  names[0] = (names[0] ?? "").replaceAll("/", ".").replace(/\.py$/, "");
  names[names.length - 1] += params;
  return names;
}

function sectionText(sections: [string, string][], prefix: string, joiner: string): string {
  return sections
    .filter(([title]) => title.startsWith(prefix))
    .map(([, text]) => text)
    .join(joiner);
}

class LogXml {
  readonly stats: Record<Stat, number> = { error: 0, passed: 0, failure: 0, skipped: 0 };
  readonly ordered: NodeReporter[] = [];
  private readonly open = new Map<string, NodeReporter>();
  private openReports: ResultRecord[] = [];
  /** Sections captured so far per test: pytest's reports carry them cumulatively. */
  private readonly sections = new Map<string, [string, string][]>();
  doubleFails = 0;

  private reporter(nodeid: string): NodeReporter {
    let reporter = this.open.get(nodeid);
    if (reporter === undefined) {
      reporter = new NodeReporter();
      this.open.set(nodeid, reporter);
      this.ordered.push(reporter);
    }
    return reporter;
  }

  private openTestcase(nodeid: string): NodeReporter {
    const reporter = this.reporter(nodeid);
    const names = mangleTestAddress(nodeid);
    // xunit2 keeps only classname and name (file/line are xunit1).
    reporter.attrs = [
      ["classname", names.slice(0, -1).join(".")],
      ["name", binXmlEscape(names[names.length - 1] ?? "")],
    ];
    return reporter;
  }

  private append(reporter: NodeReporter, node: XmlNode): void {
    if (node.tag in this.stats) this.stats[node.tag as Stat]++;
    reporter.nodes.push(node);
  }

  private simple(reporter: NodeReporter, tag: string, message: string, data?: string): void {
    const node: XmlNode = { tag, attrs: [["message", message]] };
    if (data !== undefined) node.text = binXmlEscape(data);
    this.append(reporter, node);
  }

  collectReport(record: CollectRecord): void {
    if (record.type === "error") {
      this.simple(
        this.openTestcase(record.nodeid),
        "error",
        "collection failure",
        record.longreprtext,
      );
    } else if (record.type === "skipped") {
      this.simple(
        this.openTestcase(record.nodeid),
        "skipped",
        "collection skipped",
        record.longrepr,
      );
    }
  }

  logReport(report: ResultRecord): void {
    const longrepr = report.longreprtext ?? "";
    const earlier = report.when === "setup" ? [] : (this.sections.get(report.nodeid) ?? []);
    this.sections.set(report.nodeid, [...earlier, ...(report.sections ?? [])]);
    if (report.outcome === "passed") {
      if (report.when === "call") {
        this.openTestcase(report.nodeid);
        this.stats.passed++;
      }
    } else if (report.outcome === "failed") {
      if (report.when === "teardown") {
        const close = this.openReports.find((r) => r.nodeid === report.nodeid);
        if (close) {
          this.open.delete(close.nodeid);
          this.doubleFails++;
        }
      }
      const reporter = this.openTestcase(report.nodeid);
      if (report.when === "call") {
        if (report.xfailReason !== undefined) {
          this.simple(reporter, "skipped", "xfail-marked test passes unexpectedly");
        } else {
          this.simple(reporter, "failure", binXmlEscape(report.message ?? longrepr), longrepr);
        }
        this.openReports.push(report);
      } else {
        const reason = report.message ?? longrepr;
        const what = report.when === "teardown" ? "teardown" : "setup";
        this.simple(
          reporter,
          "error",
          binXmlEscape(`failed on ${what} with "${reason}"`),
          longrepr,
        );
      }
    } else {
      this.skipped(this.openTestcase(report.nodeid), report);
    }
    this.reporter(report.nodeid).duration += report.duration;
    if (report.when === "teardown") {
      const reporter = this.openTestcase(report.nodeid);
      this.capturedOutput(reporter, report);
      for (const [name, value] of report.userProperties ?? []) {
        reporter.properties.push([name, binXmlEscape(value)]);
      }
      this.open.delete(report.nodeid);
      this.openReports = this.openReports.filter((r) => r.nodeid !== report.nodeid);
    }
  }

  private skipped(reporter: NodeReporter, report: ResultRecord): void {
    if (report.xfailReason !== undefined) {
      let reason = report.xfailReason;
      if (reason.startsWith("reason: ")) reason = reason.slice(8);
      this.append(reporter, {
        tag: "skipped",
        attrs: [
          ["type", "pytest.xfail"],
          ["message", binXmlEscape(reason)],
        ],
      });
      return;
    }
    const [filename, lineno, rawReason] = report.skip ?? ["", null, ""];
    const reason = rawReason.startsWith("Skipped: ") ? rawReason.slice(9) : rawReason;
    this.append(reporter, {
      tag: "skipped",
      attrs: [
        ["type", "pytest.skip"],
        ["message", reason],
      ],
      text: binXmlEscape(`${filename}:${lineno ?? "None"}: ${reason}`),
    });
    this.capturedOutput(reporter, report);
  }

  /** junit_logging=all: log and stdout in system-out, stderr in system-err. */
  private capturedOutput(reporter: NodeReporter, report: ResultRecord): void {
    const prepare = (content: string, header: string) =>
      [pyCenter(header, 80, "-"), content, ""].join("\n");
    const sections = this.sections.get(report.nodeid) ?? [];
    const log = prepare(sectionText(sections, "Captured log", "\n"), " Captured Log ");
    const out = prepare(sectionText(sections, "Captured stdout", ""), " Captured Out ");
    const err = prepare(sectionText(sections, "Captured stderr", ""), " Captured Err ");
    this.append(reporter, { tag: "system-out", attrs: [], text: binXmlEscape(log + out) });
    this.append(reporter, { tag: "system-err", attrs: [], text: binXmlEscape(err) });
  }
}

function element(tag: string, attrs: [string, string][], inner: string | undefined): string {
  const open = `<${tag}${attrs.map(([k, v]) => ` ${k}="${xmlAttr(v)}"`).join("")}`;
  return inner === undefined || inner === "" ? `${open} />` : `${open}>${inner}</${tag}>`;
}

function testcaseXml(reporter: NodeReporter): string {
  let inner = "";
  if (reporter.properties.length > 0) {
    const props = reporter.properties.map(([name, value]) =>
      element(
        "property",
        [
          ["name", name],
          ["value", value],
        ],
        undefined,
      ),
    );
    inner += element("properties", [], props.join(""));
  }
  for (const node of reporter.nodes) {
    inner += element(
      node.tag,
      node.attrs,
      node.text === undefined ? undefined : xmlText(node.text),
    );
  }
  return element("testcase", [...reporter.attrs, ["time", fixed(reporter.duration, 3)]], inner);
}

/** datetime.fromtimestamp(t).isoformat() in the run's recorded UTC offset. */
export function localIsoTimestamp(epochMs: number, utcOffsetMinutes: number): string {
  const shifted = new Date(epochMs + utcOffsetMinutes * 60_000).toISOString(); // ...T..:..:..sssZ
  const micros = (epochMs % 1000) * 1000;
  const base = shifted.slice(0, 19);
  return micros === 0 ? base : `${base}.${String(Math.round(micros)).padStart(6, "0")}`;
}

export function renderJunit(context: ReportContext): string {
  const log = new LogXml();
  for (const record of context.records.collect) log.collectReport(record);
  for (const record of context.records.results) log.logReport(record);
  const { stats } = log;
  const m = context.manifest;
  const tests = stats.passed + stats.failure + stats.skipped + stats.error - log.doubleFails;
  const suite = element(
    "testsuite",
    [
      ["name", "pytest"],
      ["errors", String(stats.error)],
      ["failures", String(stats.failure)],
      ["skipped", String(stats.skipped)],
      ["tests", String(tests)],
      ["time", fixed(Math.max(0, m.finishedAt - m.startedAt) / 1000, 3)],
      ["timestamp", localIsoTimestamp(m.startedAt, m.utcOffsetMinutes)],
      ["hostname", m.hostname],
    ],
    log.ordered.map(testcaseXml).join(""),
  );
  return `<?xml version="1.0" encoding="utf-8"?>${element("testsuites", [], suite)}`;
}

export const junitModule: ReportModule = {
  id: "junit",
  name: "JUnit XML",
  subscribes: ["collect", "results"],
  render(context) {
    return {
      files: [{ path: "junit.xml", content: renderJunit(context) }],
      index: [
        {
          title: "JUnit XML",
          html: '<p><a href="junit.xml">junit.xml</a> — for CI (the same as pytest\'s <code>--junitxml</code> with <code>junit_logging=all</code>).</p>',
        },
      ],
    };
  },
};
