import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/main.js';
import { cli, ensureBuilt, ROOT, tempDir } from './helpers.js';

const BUGGY = join(ROOT, 'test', 'scenario', 'fixtures', 'buggy-backend.mjs');
const version = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

beforeAll(() => ensureBuilt(), 120_000);

/** Exactly one line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}

describe('help, version, startup', () => {
  it('--help lists every command and starts fast (the figure is in bench/cli-startup.bench.ts)', () => {
    const times: number[] = [];
    let out = '';
    for (let i = 0; i < 5; i++) {
      const r = cli(['--help']);
      expect(r.code).toBe(0);
      times.push(r.ms);
      out = r.stdout;
    }
    for (const c of COMMANDS) expect(out).toContain(`fltbridge ${c.command}`);
    expect(out).toMatch(/Exit codes: 0 ok, 1 failures found, 2 bad input or usage, 3 not possible/);
    times.sort((a, b) => a - b);
    // The target is 150 ms on an idle machine; this bound only catches a regression such as
    // loading yargs or the model for --help (each of which alone costs about that much).
    expect(times[2]).toBeLessThan(400);
  });

  it('--help of every command has an example and exits 0', () => {
    for (const c of COMMANDS) {
      const name = c.command.split(' ')[0] as string;
      const r = cli([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toContain('Examples:');
      expect(r.stdout, name).toContain(`fltbridge ${name}`);
    }
  });

  it('--version', () => {
    expect(cli(['--version']).stdout.trim()).toBe(version);
  });
});

describe('usage errors and bad input: one line, exit 2', () => {
  const dir = tempDir();
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /^fltbridge: no command given — see fltbridge --help$/],
    ['unknown command', ['dmeo'], /^fltbridge: unknown command 'dmeo' — did you mean 'demo'\?/],
    [
      'unknown option',
      ['demo', '--nope'],
      /^fltbridge: unknown option --nope — see fltbridge demo --help$/,
    ],
    ['missing argument', ['run'], /^fltbridge: missing argument: fltbridge run <files\.\.> — see/],
    [
      'unknown backend',
      ['run', 'examples/', '--backend', 'vax'],
      /^fltbridge: unknown backend 'vax' — use model or windows$/,
    ],
    [
      'a missing file',
      ['run', 'nope.yaml'],
      /^fltbridge: nope\.yaml: no such file — check the path$/,
    ],
    [
      'unknown handle',
      ['run', file('h.yaml', 'steps:\n  - open h1 a\n  - lock h3 0 1\n')],
      /h\.yaml:3: unknown handle 'h3' — declare it with an open step first$/,
    ],
    [
      'bad level',
      [
        'run',
        file('l.yaml', 'steps:\n  - open: h1\n    path: a\n  - oplock: h1\n    level: RWX\n'),
      ],
      /l\.yaml:5: unknown oplock level 'RWX' — use LEVEL1, LEVEL2, BATCH, FILTER, R, RW, RH, RWH or NONE$/,
    ],
    [
      'malformed YAML',
      ['run', file('m.yaml', 'steps:\n  - open: h1\n    path: [a\n')],
      /m\.yaml:\d+: malformed YAML: .* — fix the syntax \(YAML, or JSON\)$/,
    ],
    [
      'an offset past 2^64-1',
      [
        'run',
        file(
          'o.yaml',
          'steps:\n  - open h1 a\n  - lock: h1\n    offset: 18446744073709551616\n    length: 1\n',
        ),
      ],
      /o\.yaml:4: offset 18446744073709551616 is past 2\^64-1 — use a value from 0 to 18446744073709551615/,
    ],
    [
      'a bad fuzz count',
      ['fuzz', '--count', '0'],
      /^fltbridge: --count 0 is not a whole number from 1 to 10000000/,
    ],
    [
      'an unknown event type',
      ['watch', '--type', 'oplok', '--replay', 'x'],
      /^fltbridge: unknown event type 'oplok'/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const r = cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r.stderr)).toMatch(message);
    });
  }

  it('every bad file is reported before anything runs', () => {
    const r = cli([
      'run',
      'examples/01-legacy-level1-break-to-level2.yaml',
      join(dir, 'h.yaml'),
      join(dir, 'l.yaml'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(2);
    expect(r.stdout).toBe('');
  });

  it('--debug adds the stack trace', () => {
    const r = cli(['run', join(dir, 'h.yaml'), '--debug']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});

describe('run', () => {
  it('every example passes on the model: exit 0', () => {
    const r = cli(['run', 'examples/']);
    expect(r.code, r.stdout).toBe(0);
    const n = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml')).length;
    expect(r.stdout).toContain(`${n} passed (${n} scenarios`);
  });

  it("a failing scenario: exit 1, expected and actual side by side with the step's events", () => {
    const dir = tempDir();
    const p = join(dir, 'fail.yaml');
    writeFileSync(
      p,
      'setup: { files: [f] }\nsteps:\n  - open h1 f rw\n  - do: lock h1 0 10\n    expect: { status: STATUS_LOCK_NOT_GRANTED }\n',
    );
    const r = cli(['run', p]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ step 2, line 4: lock h1 0 10 excl → STATUS_SUCCESS/);
    expect(r.stdout).toMatch(/FIELD\s+EXPECTED\s+ACTUAL/);
    expect(r.stdout).toMatch(/status\s+STATUS_LOCK_NOT_GRANTED\s+STATUS_SUCCESS \(0x00000000\)/);
    expect(r.stdout).toMatch(/LOCK_GRANTED .*\[0, \+10\) excl/);
    expect(r.stdout).toContain('0 passed, 1 failed');
  });

  it('--json: JSON Lines, one scenario per line then a summary; --junit writes a report', () => {
    const dir = tempDir();
    const junit = join(dir, 'report.xml');
    const r = cli([
      'run',
      'examples/03-level2-broken-by-write.yaml',
      'examples/10-unlock-rules.yaml',
      '--json',
      '--junit',
      junit,
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['scenario', 'scenario', 'summary']);
    for (const l of lines) expect(l.v).toBe(1);
    expect(lines[0].passed).toBe(true);
    const write = lines[0].steps[5];
    expect(write).toMatchObject({ verb: 'write', statusName: 'STATUS_SUCCESS', bytes: '3' });
    expect(write.breaks).toHaveLength(2);
    expect(write.events[0]).toMatchObject({
      type: 'oplock-break',
      seq: expect.stringMatching(/^\d+$/),
    });
    expect(lines[2]).toMatchObject({ scenarios: 2, passed: 2, failed: 0 });
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>/);
    expect(xml).toContain('<testsuites name="fltbridge" tests="2" failures="0" errors="0"');
    expect(xml.match(/<testcase /g)).toHaveLength(2);
  });

  it('--junit records failures', () => {
    const dir = tempDir();
    const p = join(dir, 'f.yaml');
    writeFileSync(
      p,
      'setup: { files: [f] }\nsteps:\n  - do: open h1 f\n    expect: { status: STATUS_SHARING_VIOLATION }\n',
    );
    const junit = join(dir, 'r.xml');
    expect(cli(['run', p, '--junit', junit]).code).toBe(1);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('failures="1"');
    expect(xml).toMatch(
      /<failure message="step 1, line 3: status expected STATUS_SHARING_VIOLATION, got STATUS_SUCCESS/,
    );
  });

  it('--backend windows off Windows: one line, exit 3', () => {
    const r = cli(['run', 'examples/', '--backend', 'windows']);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(/needs Windows|not available/);
  });
});

describe('demo', () => {
  it('a readable, checked trace in under 2 seconds', () => {
    const r = cli(['demo']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.ms).toBeLessThan(2000);
    expect(r.stdout).toMatch(/TIME\s+SEQ\s+PID\s+HANDLE\s+OPERATION\s+PATH\s+DETAIL\s+RESULT/);
    expect(r.stdout).toMatch(/OPLOCK_BREAK .*RWH→RW ack required/);
    expect(r.stdout).toMatch(/b1\s+CREATE .*STATUS_SHARING_VIOLATION/);
    expect(r.stdout).toMatch(/WRITE_REFUSED .*STATUS_FILE_LOCK_CONFLICT/);
    expect(r.stdout).toMatch(/LOCK_GRANTED .*\[0, \+100\) excl/);
    expect(r.stdout).toContain('✓ Every step did what Windows does');
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('colour when forced', () => {
    expect(cli(['demo'], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } }).stdout).toContain(
      '\x1b[',
    );
  });

  it('--json: the same events as JSON Lines', () => {
    const r = cli(['demo', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.type === 'event');
    expect(lines.at(-1)).toMatchObject({
      v: 1,
      type: 'summary',
      passed: true,
      events: events.length,
    });
    expect(events.length).toBeGreaterThan(10);
    const seqs = events.map((l) => BigInt(l.event.seq));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as bigint);
    expect(events.find((l) => l.event.type === 'oplock-break').event).toMatchObject({
      fromLevel: 'RWH',
      toLevel: 'RW',
      handle: 'a',
      statusName: 'STATUS_SUCCESS',
    });
  });

  it('a closed pipe ends it quietly', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" bin/fltbridge.js demo --json | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.stdout.trim()).toBe('0');
    expect(r.stderr).toBe('');
  });
});

let demoJson: string | undefined;
const demoCapture = () => {
  demoJson ??= cli(['demo', '--json']).stdout;
  return demoJson;
};

describe('watch', () => {
  it('off Windows: one line saying what is not possible and what is; exit 3', () => {
    const r = cli(['watch']);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(
      /watch needs the fltbridge driver, which runs on Windows .* fltbridge demo .* --replay/,
    );
  });

  it('--replay renders a capture as the table, filtered, with totals and drop counts', () => {
    const dir = tempDir();
    const capture = join(dir, 'capture.jsonl');
    writeFileSync(capture, demoCapture());
    const all = cli(['watch', '--replay', capture]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^TIME\s+SEQ/);
    const filtered = cli(['watch', '--replay', capture, '--type', 'oplock', '--path', '*.docx']);
    const rows = filtered.stdout.trimEnd().split('\n').slice(1);
    expect(rows.length).toBeGreaterThan(2);
    // The oplock family: OPLOCK_* rows and BREAK_RELEASED (oplock-break-completed).
    for (const row of rows) expect(row).toMatch(/ (OPLOCK_|BREAK_RELEASED )/);
    expect(filtered.stderr).toMatch(
      /watch: end of capture; \d+ event\(s\) shown, \d+ filtered out/,
    );
    expect(filtered.stderr).toMatch(/dropped: 0 event\(s\)/);
    const json = cli(['watch', '--replay', capture, '--json', '--type', 'lock']);
    const lines = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ type: 'summary', dropped: '0' });
    expect(
      lines.slice(0, -1).every((l) => l.type === 'event' && /^(lock|unlock)/.test(l.event.type)),
    ).toBe(true);
  });

  it('--replay counts dropped events exactly, from dropped records and gaps', () => {
    const dir = tempDir();
    const capture = join(dir, 'gaps.jsonl');
    const ev = (seq: number, extra = {}) =>
      JSON.stringify({
        v: 1,
        type: 'event',
        event: {
          type: 'close',
          seq: String(seq),
          timestamp: '133485408000000000',
          processId: 1,
          threadId: 1,
          streamId: '1',
          fileObjectId: '1',
          operationId: '1',
          status: 0,
          flags: 0,
          streamReferences: 0,
          ...extra,
        },
      });
    writeFileSync(
      capture,
      [ev(1), ev(2, { type: 'dropped', firstSequence: '2', count: '5' }), ev(7), ev(10)].join('\n'),
    );
    const r = cli(['watch', '--replay', capture]);
    expect(r.stdout).toMatch(/DROPPED .*5 event\(s\) dropped from seq 2/);
    expect(r.stderr).toMatch(
      /dropped: 7 event\(s\) in 1 dropped record\(s\), 2 missing without a dropped record/,
    );
  });

  it('--replay of a bad file: one line, exit 2', () => {
    const dir = tempDir();
    const p = join(dir, 'bad.jsonl');
    const good = demoCapture().split('\n')[0];
    writeFileSync(
      p,
      `${good}\nnot json\n{"v":1,"type":"event","event":{"type":"close","seq":"1"}}\n`,
    );
    const r = cli(['watch', '--replay', p]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(
      /bad\.jsonl:2: not JSON — replay reads the JSON Lines that watch --json writes$/,
    );
    writeFileSync(p, '{"v":1,"type":"event","event":{"type":"close","seq":"1"}}\n');
    const partial = cli(['watch', '--replay', p]);
    expect(partial.code).toBe(2);
    expect(oneLine(partial.stderr)).toMatch(/bad\.jsonl:1: not an event record/);
  });
});

describe('driver and doctor off Windows', () => {
  for (const action of ['install', 'uninstall', 'load', 'unload', 'status']) {
    it(`driver ${action}: one line, exit 3`, () => {
      const r = cli(['driver', action]);
      expect(r.code).toBe(3);
      expect(oneLine(r.stderr)).toMatch(
        new RegExp(
          `^fltbridge: fltbridge driver ${action} needs Windows: .* — here, the embedded model answers the same questions`,
        ),
      );
    });
  }

  it('doctor: what works here and one line for what needs Windows', () => {
    const r = cli(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ node\s+v\d+/);
    expect(r.stdout).toMatch(/✓ model\s+the embedded model answers/);
    expect(r.stdout).toMatch(
      /– windows\s+not possible on linux: the driver, the addon, the port, test signing and administrator checks need Windows/,
    );
    const json = JSON.parse(cli(['doctor', '--json']).stdout);
    expect(json).toMatchObject({ v: 1, type: 'doctor', ok: true });
  });
});

describe('shell', () => {
  it('runs commands from stdin, prints events and results, saves a runnable scenario', () => {
    const dir = tempDir();
    const saved = join(dir, 'session.yaml');
    const script = [
      'mkfile f.txt 100',
      'open h1 f.txt rw',
      'oplock h1 RWH',
      'open h2 f.txt read process=2',
      'ack h1 RH',
      'lock h1 0 10',
      'handles',
      'pending',
      `save ${saved}`,
      'exit',
    ].join('\n');
    const r = cli(['shell'], { input: script });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fltbridge> open h2 f\.txt read process=2/);
    expect(r.stdout).toMatch(/OPLOCK_BREAK .*RWH→RH/);
    expect(r.stdout).toMatch(
      /→ 3 open h2 f\.txt read process=2: in flight · break: h1 \(step 2\) RWH→RH ack required/,
    );
    expect(r.stdout).toMatch(
      /→ 4 ack h1 RH: in flight · completes step 3 \(open h2\) STATUS_SUCCESS/,
    );
    expect(r.stdout).toMatch(/wrote .*session\.yaml \(5 steps, with the observed expectations\)/);
    expect(existsSync(saved)).toBe(true);
    const run = cli(['run', saved]);
    expect(run.code, run.stdout).toBe(0);
  });

  it('a bad line is one error line; the session goes on; exit 2 at the end of a script', () => {
    const r = cli(['shell'], {
      input: 'mkfile f\nopen h1 f\nlock h9 0 1\noplock h1 RWX\nlock h1 0 1\n',
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/error: unknown handle 'h9' — declare it with an open step first/);
    expect(r.stdout).toMatch(/error: unknown oplock level 'RWX'/);
    expect(r.stdout).toMatch(/→ 2 lock h1 0 1 excl: STATUS_SUCCESS/);
  });
});

describe('diff', () => {
  it('the same scenario on the same backend twice: no divergence, exit 0', () => {
    const r = cli([
      'diff',
      'examples/04-rwh-broken-to-rh-by-open.yaml',
      '--backend',
      'model',
      '--against',
      'model',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no divergence');
  });

  it('a divergence: the step, both results and both event lists; exit 1', () => {
    const env = { FLTBRIDGE_TEST_BACKEND: BUGGY };
    const r = cli(
      ['diff', 'examples/10-unlock-rules.yaml', '--backend', 'test', '--against', 'model'],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /≠ examples\/10-unlock-rules\.yaml — unlock must match exactly: first divergence at step 6, line \d+: lock h1 10 10 excl/,
    );
    expect(r.stdout).toMatch(/FIELD\s+TEST\s+MODEL/);
    expect(r.stdout).toMatch(/status\s+STATUS_SUCCESS\s+STATUS_LOCK_NOT_GRANTED/);
    expect(r.stdout).toMatch(/events on test:\n.*LOCK_DENIED/);
    expect(r.stdout).toMatch(/events on model:\n.*LOCK_DENIED/);
    const json = cli(
      [
        'diff',
        'examples/10-unlock-rules.yaml',
        '--backend',
        'test',
        '--against',
        'model',
        '--json',
      ],
      { env },
    );
    const first = JSON.parse(json.stdout.split('\n')[0] as string);
    expect(first).toMatchObject({
      v: 1,
      type: 'scenario',
      diverged: true,
      divergence: { field: 'status', step: { index: 5 } },
    });
  });
});

describe('fuzz', () => {
  it('a clean model: no failure, the throughput, exit 0', () => {
    const r = cli(['fuzz', '--seed', '9', '--count', '40']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /no failure — 40 scenario\(s\), 1200 steps in [\d.]+ s \(\d+ steps\/s without shrinking\), seed 9/,
    );
  });

  it('an injected bug: found, shrunk, written; the file reproduces it with fltbridge run', () => {
    const dir = tempDir();
    const env = { FLTBRIDGE_TEST_BACKEND: BUGGY };
    const r = cli(['fuzz', '--backend', 'test', '--seed', '3', '--count', '200', '--out', dir], {
      env,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ scenario \d+ \(seed 3\): invariant:conflicting-locks/);
    expect(r.stdout).toMatch(/shrunk from 30 to 3 step\(s\)/);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const repro = join(dir, files[0] as string);
    expect(r.stdout).toContain(`written: ${repro}`);
    expect(r.stdout).toContain(`reproduce: fltbridge run ${repro} --backend test`);
    expect(cli(['run', repro, '--backend', 'test'], { env }).code).toBe(1);
    expect(cli(['run', repro]).code).toBe(0);
    expect(cli(['run', repro, '--backend', 'test']).code).toBe(2);
  });
});

describe('schema', () => {
  it('prints the schema that docs/scenarios.schema.json holds', () => {
    const r = cli(['schema']);
    expect(JSON.parse(r.stdout)).toEqual(
      JSON.parse(readFileSync(join(ROOT, 'docs', 'scenarios.schema.json'), 'utf8')),
    );
  });
});

describe('namespaces off Windows: the existing one line, exit 3', () => {
  it('driver configure', () => {
    const r = cli(['driver', 'configure', '--managed', 'C:\\fltb', '--events', 'oplock']);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(
      /^fltbridge: fltbridge driver configure needs Windows: .* — here, the embedded model answers the same questions/,
    );
  });

  it('watch --managed / --observe', () => {
    const r = cli(['watch', '--managed', 'C:\\fltb', '--observe', 'D:\\logs']);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toMatch(/watch needs the fltbridge driver, which runs on Windows/);
  });

  it('run/diff/shell --backend windows with --root, --observe-root, --no-configure', () => {
    const example = join('examples', '04-rwh-broken-to-rh-by-open.yaml');
    for (const argv of [
      ['run', example, '--backend', 'windows', '--root', tempDir(), '--observe-root'],
      ['run', example, '--backend', 'windows', '--no-configure'],
      ['diff', example, '--against', 'windows', '--root', tempDir()],
      ['shell', '--backend', 'windows', '--no-configure'],
    ]) {
      const r = cli(argv);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(oneLine(r.stderr)).toMatch(/the windows backend .* needs Windows \(this is \w+\)/);
    }
  });

  it('the options change nothing on the model', () => {
    const r = cli([
      'run',
      join('examples', '04-rwh-broken-to-rh-by-open.yaml'),
      '--observe-root',
      '--no-configure',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('watch --replay with --managed: a usage error', () => {
    const file = join(tempDir(), 'c.jsonl');
    writeFileSync(file, '');
    const r = cli(['watch', '--replay', file, '--managed', 'C:\\fltb']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(
      /--managed and --observe configure the driver; --replay does not use it/,
    );
  });
});
