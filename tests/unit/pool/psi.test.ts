import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePsiSomeAvg10, readCpuPressure } from "../../../src/pool/psi.js";
import { tempDir } from "../../helpers/temp.js";

describe("PSI", () => {
  it("reads some avg10 from /proc/pressure/cpu's format", () => {
    const text =
      "some avg10=12.34 avg60=5.00 avg300=1.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    expect(parsePsiSomeAvg10(text)).toBe(12.34);
    const file = join(tempDir(), "cpu");
    writeFileSync(file, text);
    expect(readCpuPressure(file)).toBe(12.34);
  });

  it("is null where the file or the field is missing", () => {
    expect(parsePsiSomeAvg10("full avg10=1.00\n")).toBeNull();
    expect(readCpuPressure("/nonexistent/pressure/cpu")).toBeNull();
  });
});
