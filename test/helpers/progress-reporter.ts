// A vitest reporter that appends one line per test file and test case start/end, with the time, to
// the file named by EVENTLY_TEST_PROGRESS (nothing without it). The other reporters print a file only
// when it ends; this one shows which file and test a stalled run is in.
import { appendFileSync } from "node:fs";
import type { Reporter, TestCase, TestModule } from "vitest/node";

const out = process.env.EVENTLY_TEST_PROGRESS;
const line = (s: string) => out && appendFileSync(out, `${new Date().toISOString()} ${s}\n`);

export default class ProgressReporter implements Reporter {
  onTestModuleStart(m: TestModule) {
    line(`file start ${m.moduleId}`);
  }
  onTestModuleEnd(m: TestModule) {
    line(`file end   ${m.moduleId} ${m.state()}`);
  }
  onTestCaseReady(t: TestCase) {
    line(`  test start ${t.fullName}`);
  }
  onTestCaseResult(t: TestCase) {
    line(`  test end   ${t.fullName} ${t.result().state}`);
  }
}
