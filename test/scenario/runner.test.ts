import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModelBridge, type ModelBridgeOptions } from '../../src/backends/model.js';
import { InvalidArgumentError } from '../../src/bridge/errors.js';
import { NtStatus } from '../../src/bridge/ntstatus.js';
import { InvariantChecker } from '../../src/scenario/fuzz/invariants.js';
import { loadScenario, parseScenario } from '../../src/scenario/parse.js';
import { type RunOptions, runScenario, type ScenarioResult } from '../../src/scenario/runner.js';

async function run(
  yaml: string,
  options: RunOptions = {},
  model: ModelBridgeOptions = {},
): Promise<ScenarioResult> {
  const bridge = createModelBridge(model);
  try {
    return await runScenario(parseScenario(yaml, 't.yaml'), bridge, options);
  } finally {
    await bridge.dispose();
  }
}

const failures = (r: ScenarioResult) =>
  r.steps.flatMap((s) =>
    s.failures.map((f) => `${s.step.index + 1}:${f.field}: ${f.expected} | ${f.actual}`),
  );

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('examples', () => {
  it('there are at least 15, each citing its source', async () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(15);
    for (const f of exampleFiles) {
      const text = (await import('node:fs')).readFileSync(join(EXAMPLES, f), 'utf8');
      expect(text, f).toMatch(/^# .*\n(# .*\n)*# Source: /m);
    }
  });

  for (const file of exampleFiles) {
    it(`${file} passes on the model, invariants included`, async () => {
      const bridge = createModelBridge();
      try {
        const result = await runScenario(await loadScenario(join(EXAMPLES, file)), bridge, {
          observer: new InvariantChecker(),
        });
        expect(failures(result)).toEqual([]);
        expect(result.violations).toEqual([]);
        expect(result.fatal).toBeUndefined();
        expect(result.passed).toBe(true);
        expect(result.teardown?.leftInFlight).toEqual([]);
      } finally {
        await bridge.dispose();
      }
    });
  }
});

describe('runner: what happens during a step', () => {
  it('attributes breaks to the holder and the request, completions to earlier steps', async () => {
    const r = await run(`
setup: { files: [{ path: f, size: 10 }] }
steps:
  - open h1 f rw
  - { do: oplock h1 RWH, id: o }
  - open h2 f read process=2
  - ack h1 RH
`);
    const open2 = r.steps[2]?.actual;
    expect(open2?.pending).toBe(true);
    expect(open2?.breaks).toEqual([
      expect.objectContaining({
        handle: 'h1',
        request: 'o',
        from: 'RWH',
        to: 'RH',
        ackRequired: true,
        status: 0,
      }),
    ]);
    expect(r.steps[3]?.actual.completes).toEqual([
      expect.objectContaining({
        step: '3',
        verb: 'open',
        handle: 'h2',
        status: 0,
        information: 1n,
      }),
    ]);
    expect(r.steps[3]?.actual.pending).toBe(true);
    // Labels name the handles in events; every event of a step is the step's.
    expect([...r.labels.values()].sort()).toEqual(['h1', 'h2']);
    expect(r.steps[2]?.actual.events.map((e) => e.type)).toContain('oplock-break');
    // Teardown closes h1 and h2 and ends h1's RH oplock.
    expect(r.teardown?.completes.map((c) => c.step)).toEqual(['4']);
    expect(r.teardown?.leftInFlight).toEqual([]);
  });

  it('is exact by default: an unexpected break, completion or pending state fails the step', async () => {
    const r = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - oplock h1 RWH
  - open: h2
    path: f
    expect: { status: STATUS_SUCCESS }
`);
    expect(failures(r)).toEqual([
      '3:pending: completed | still in flight',
      '3:breaks: (no other break) | h1 (step 2) RWH→RH ack required STATUS_SUCCESS',
    ]);
    expect(r.passed).toBe(false);
  });

  it('exact: false allows unlisted breaks, but listed ones must happen', async () => {
    const ok = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - oplock h1 RWH
  - open: h2
    path: f
    expect: { pending: true, exact: false }
`);
    expect(failures(ok)).toEqual([]);
    const missing = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - oplock h1 RH
  - open: h2
    path: f
    expect: { exact: false, breaks: [h1] }
`);
    expect(failures(missing)).toEqual(['3:breaks: h1 | (no break)']);
  });

  it("checks a pending step's status when it completes, and reports it against that step", async () => {
    const r = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - open h2 f rw process=2
  - lock h1 0 10
  - do: lock h2 0 10 wait
    expect: { pending: true, status: STATUS_LOCK_NOT_GRANTED }
  - do: unlock h1 0 10
    expect: { completes: [4] }
`);
    expect(failures(r)).toEqual([
      '4:status: STATUS_LOCK_NOT_GRANTED | STATUS_SUCCESS (0x00000000) (completed later)',
    ]);
  });

  it('a declared status of a step that never completes fails', async () => {
    const r = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - open h2 f rw process=2
  - lock h1 0 10
  - do: lock h2 0 10 wait
    expect: { pending: true, status: success }
`);
    // Teardown: h1's close releases its range, so h2's lock is granted before h2 closes.
    expect(failures(r)).toEqual([]);
    const never = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - do: oplock h1 RWH
    expect: { pending: true, status: STATUS_SUCCESS }
`);
    expect(failures(never)).toEqual([
      '2:status: STATUS_SUCCESS | STATUS_OPLOCK_HANDLE_CLOSED (0x00000216) (completed later)',
    ]);
  });

  it('does not issue steps on handles whose open failed; that fails only steps with expectations', async () => {
    const r = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw share=none
  - open h2 f read process=2
  - read h2 0 1
  - do: read h2 0 1
    expect: { status: success }
`);
    expect(r.steps[1]?.actual.status).toBe(NtStatus.STATUS_SHARING_VIOLATION);
    expect(r.steps[2]?.actual.skipped).toMatch(
      /its open \(step 2\) failed with STATUS_SHARING_VIOLATION/,
    );
    expect(r.steps[2]?.failures).toEqual([]);
    expect(failures(r)).toEqual([
      "4:runs: the step is issued | handle 'h2' is not open: its open (step 2) failed with STATUS_SHARING_VIOLATION (0xC0000043)",
    ]);
  });

  it('wait times out at once on the model when nothing can complete the step; cancel says what it found', async () => {
    const r = await run(`
setup: { files: [f] }
steps:
  - open h1 f rw
  - { do: oplock h1 RWH, id: o }
  - do: wait o
    expect: { status: STATUS_TIMEOUT }
  - do: cancel o
    expect: { status: STATUS_SUCCESS, completes: [{ step: o, status: STATUS_CANCELLED }] }
  - do: cancel o
    expect: { status: STATUS_NOT_FOUND }
  - do: wait o
    expect: { status: STATUS_SUCCESS }
`);
    expect(failures(r)).toEqual([]);
  });

  it('reads and writes: bytes and data', async () => {
    const r = await run(`
setup: { files: [{ path: f, data: "hello world" }] }
steps:
  - open h1 f rw
  - do: read h1 6 100
    expect: { status: STATUS_SUCCESS, bytes: 5, data: world }
  - do: write h1 0 "HELLO"
    expect: { bytes: 5 }
  - do: read h1 0 5
    expect: { data: HELLO }
  - do: read h1 100 1
    expect: { status: STATUS_END_OF_FILE }
`);
    expect(failures(r)).toEqual([]);
  });

  it('a step the backend refuses (not an NTSTATUS) fails even without expectations', async () => {
    const bridge = createModelBridge();
    const scenario = parseScenario(
      'setup: { files: [f] }\nsteps:\n  - open h1 f\n  - read h1 0 1\n',
      't.yaml',
    );
    const read = bridge.read.bind(bridge);
    bridge.read = () => {
      throw new InvalidArgumentError('read refused for the test');
    };
    try {
      const r = await runScenario(scenario, bridge);
      expect(r.steps[1]?.actual.error).toBe('InvalidArgumentError: read refused for the test');
      expect(r.passed).toBe(false);
    } finally {
      bridge.read = read;
      await bridge.dispose();
    }
  });

  it('a setup that cannot be created is fatal, with the path', async () => {
    const r = await run(
      'setup: { files: [ro.txt] }\nsteps: [open h1 ro.txt]\n',
      {},
      {
        files: { 'C:\\ro.txt': { size: 1, readOnly: true } },
      },
    );
    expect(r.fatal).toMatch(/^setup: creating 'ro\.txt' failed with STATUS_ACCESS_DENIED/);
    expect(r.steps).toEqual([]);
    expect(r.passed).toBe(false);
  });
});
