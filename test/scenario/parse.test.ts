import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/bridge/errors.js';
import {
  AccessAlias,
  CreateOption,
  Disposition,
  OplockBreakInformation,
  ShareMode,
  U64_MAX,
} from '../../src/bridge/flags.js';
import { NtStatus } from '../../src/bridge/ntstatus.js';
import { ScenarioError } from '../../src/scenario/errors.js';
import { scenarioToYaml, stepCommand } from '../../src/scenario/format.js';
import {
  loadScenario,
  parseCommand,
  parseScenario,
  StepValidator,
} from '../../src/scenario/parse.js';

const FULL = `
name: everything
description: one of each
invariants: true
setup:
  files:
    - a.txt
    - { path: b.txt, size: 4096 }
    - { path: c.txt, data: hello }
    - dir/
steps:
  - open: h1
    path: a.txt
    access: [read, write]
    share: read
    disposition: open-if
    options: [FILE_COMPLETE_IF_OPLOCKED, reserve_opfilter]
    oplockKey: "{11111111-2222-3333-4444-555555555555}"
    process: 2
    expect: { status: STATUS_SUCCESS, information: FILE_OPENED }
  - oplock: h1
    id: o1
    level: rwh
    completeAckOnClose: true
    expect: { pending: true }
  - open: h2
    path: a.txt
    synchronous: true
    expect:
      status: [SHARING_VIOLATION, STATUS_SUCCESS]
      pending: true
      breaks:
        - { handle: h1, request: o1, from: RWH, to: RH, ackRequired: true }
  - ack: h1
    level: RH
    expect:
      completes: [{ step: 3, status: success }]
      exact: false
  - lock: h1
    offset: "2^64-1"
    length: 18446744073709551615
    shared: true
    wait: true
    key: 7
  - unlock: h1
    offset: 0xFF
    length: 1
  - read: h1
    length: 10
    expect: { bytes: 0, data: "" }
  - write: h1
    offset: 1
    data: "xyz"
  - unlock-all: h1
  - unlock-all-by-key: h1
    key: 3
    process: 4
  - set-information: h1
    rename: dir/new.txt
    replaceIfExists: true
  - set-information: h1
    endOfFile: 100
  - break-notify: h1
  - flush: h1
  - cancel: o1
  - wait: [o1, 3]
    timeout: 250
  - sleep: 5
  - ack: h1
    kind: ack-no-2
  - oplock: h1
    level: LEVEL_2
    expect: { status: failure, information: FILE_OPLOCK_BROKEN_TO_LEVEL_2 }
  - close: h1
`;

describe('parseScenario', () => {
  it('parses every step kind with exact values', () => {
    const s = parseScenario(FULL, 'full.yaml');
    expect(s.name).toBe('everything');
    expect(s.invariants).toBe(true);
    expect(s.setup.map((e) => [e.path, e.directory, e.size])).toEqual([
      ['a.txt', false, 0n],
      ['b.txt', false, 4096n],
      ['c.txt', false, 5n],
      ['dir', true, 0n],
    ]);
    expect(s.steps).toHaveLength(20);
    const open = s.steps[0];
    if (open?.verb !== 'open') throw new Error('expected open');
    expect(open.access).toBe((AccessAlias.read | AccessAlias.write) >>> 0);
    expect(open.share).toBe(ShareMode.FILE_SHARE_READ);
    expect(open.disposition).toBe(Disposition['open-if']);
    expect(open.options).toBe(
      CreateOption.FILE_COMPLETE_IF_OPLOCKED | CreateOption.FILE_RESERVE_OPFILTER,
    );
    expect(open.oplockKey).toBe('11111111-2222-3333-4444-555555555555');
    expect(open.process).toBe(2);
    expect(open.line).toBe(12);
    expect(open.expect?.information).toBe(1n);
    expect(s.steps[1]).toMatchObject({
      verb: 'oplock',
      id: 'o1',
      level: 'RWH',
      completeAckOnClose: true,
    });
    const h2 = s.steps[2];
    expect(h2).toMatchObject({ verb: 'open', id: '3', overlapped: false });
    expect(h2?.expect?.status).toEqual({
      kind: 'codes',
      codes: [NtStatus.STATUS_SHARING_VIOLATION, NtStatus.STATUS_SUCCESS],
    });
    expect(h2?.expect?.breaks?.[0]).toMatchObject({
      handle: 'h1',
      request: 'o1',
      from: 'RWH',
      to: 'RH',
      ackRequired: true,
    });
    expect(s.steps[3]?.expect).toMatchObject({
      exact: false,
      completes: [{ step: '3', status: { kind: 'success' } }],
    });
    expect(s.steps[4]).toMatchObject({
      verb: 'lock',
      offset: U64_MAX,
      length: U64_MAX,
      exclusive: false,
      wait: true,
      key: 7,
    });
    expect(s.steps[5]).toMatchObject({ verb: 'unlock', offset: 255n, length: 1n });
    expect(s.steps[6]?.expect).toMatchObject({ bytes: 0n, data: '' });
    expect(s.steps[7]).toMatchObject({ verb: 'write', offset: 1n, data: 'xyz' });
    expect(s.steps[9]).toMatchObject({ verb: 'unlock-all-by-key', key: 3, process: 4 });
    expect(s.steps[10]).toMatchObject({
      info: { class: 'rename', target: 'dir/new.txt', replaceIfExists: true },
    });
    expect(s.steps[11]).toMatchObject({ info: { class: 'end-of-file', size: 100n } });
    expect(s.steps[14]).toMatchObject({ verb: 'cancel', target: 'o1' });
    expect(s.steps[15]).toMatchObject({ verb: 'wait', targets: ['o1', '3'], timeoutMs: 250 });
    expect(s.steps[17]).toMatchObject({ verb: 'ack', kind: 'ack-no-2' });
    expect(s.steps[18]).toMatchObject({ verb: 'oplock', level: 'LEVEL2' });
    expect(s.steps[18]?.expect?.information).toBe(
      BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2),
    );
  });

  it('accepts JSON', () => {
    const s = parseScenario(
      '{"steps": [{"open": "h1", "path": "x.txt", "disposition": "create"}, {"lock": "h1", "offset": 0, "length": 10}]}',
      'x.json',
    );
    expect(s.steps.map((x) => x.verb)).toEqual(['open', 'lock']);
    expect(s.name).toBe('x');
  });

  it('reads compact steps, alone or with do: and expectations', () => {
    const s = parseScenario(
      `steps:
  - open h1 a.txt rw share=r disp=open-if opts=complete_if_oplocked sync process=2
  - oplock h1 RWH
  - do: lock h1 0 100 shared wait key=3
    id: L
    expect: { pending: true }
  - ack h1 no-2
  - ack h1 RH ack-on-close
  - write h1 5 "two words"
  - write h1 5 64
  - set-information h1 rename b.txt replace
  - set-information h1 delete false
  - wait L timeout=10
`,
      'c.yaml',
    );
    expect(s.steps[0]).toMatchObject({
      verb: 'open',
      share: 1,
      disposition: 3,
      options: CreateOption.FILE_COMPLETE_IF_OPLOCKED,
      overlapped: false,
      process: 2,
    });
    expect(s.steps[2]).toMatchObject({
      id: 'L',
      exclusive: false,
      wait: true,
      key: 3,
      expect: { pending: true },
    });
    expect(s.steps[3]).toMatchObject({ kind: 'ack-no-2' });
    expect(s.steps[4]).toMatchObject({ kind: 'ack', level: 'RH', completeAckOnClose: true });
    expect(s.steps[5]).toMatchObject({ data: 'two words' });
    expect(s.steps[6]).toMatchObject({ data: 64 });
    expect(s.steps[7]).toMatchObject({
      info: { class: 'rename', target: 'b.txt', replaceIfExists: true },
    });
    expect(s.steps[8]).toMatchObject({ info: { class: 'disposition', deleteFile: false } });
    expect(s.steps[9]).toMatchObject({ verb: 'wait', targets: ['L'], timeoutMs: 10 });
  });

  it('writes YAML that parses back to the same steps', () => {
    const s = parseScenario(FULL, 'full.yaml');
    const again = parseScenario(scenarioToYaml(s), 'again.yaml');
    const strip = (x: unknown) =>
      JSON.parse(
        JSON.stringify(x, (k, v) =>
          k === 'line' ? undefined : typeof v === 'bigint' ? `${v}n` : v,
        ),
      );
    expect(strip(again.steps)).toEqual(strip(s.steps));
    expect(strip(again.setup)).toEqual(strip(s.setup));
    for (const step of s.steps) {
      // Every step's compact form is itself valid shell syntax for the same step.
      const node = parseCommand(stepCommand(step), 'cmd', 1);
      expect(node.kind).toBe('map');
    }
  });
});

function errorOf(text: string, file = 's.yaml'): ScenarioError {
  try {
    parseScenario(text, file);
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error('expected a ScenarioError');
}

describe('bad input: one line with file:line, the problem and the fix', () => {
  const cases: [string, string, RegExp, RegExp][] = [
    [
      'unknown handle',
      'steps:\n  - open: h1\n    path: a\n  - close: h3\n',
      /^s\.yaml:4: unknown handle 'h3'$/,
      /open step first/,
    ],
    [
      'bad level',
      'steps:\n  - open: h1\n    path: a\n  - oplock: h1\n    level: RWX\n',
      /^s\.yaml:5: unknown oplock level 'RWX'$/,
      /LEVEL1, LEVEL2/,
    ],
    [
      'level NONE',
      'steps:\n  - open h1 a\n  - oplock h1 none\n',
      /^s\.yaml:3: cannot request an oplock at level NONE$/,
      /RWH/,
    ],
    [
      'ack to a legacy level',
      'steps:\n  - open h1 a\n  - ack h1 BATCH\n',
      /^s\.yaml:3: cannot acknowledge to BATCH$/,
      /kind: acknowledge/,
    ],
    [
      'malformed YAML',
      'steps:\n  - open: h1\n   path: [a\n',
      /^s\.yaml:\d+: malformed YAML: /,
      /fix the syntax/,
    ],
    [
      'offset past 2^64-1',
      'steps:\n  - open h1 a\n  - lock: h1\n    offset: 18446744073709551616\n    length: 1\n',
      /^s\.yaml:4: offset 18446744073709551616 is past 2\^64-1$/,
      /18446744073709551615/,
    ],
    [
      'length past 2^64-1 in shell syntax',
      'steps:\n  - open h1 a\n  - lock h1 0 2^64\n',
      /^s\.yaml:3: length 18446744073709551616 is past 2\^64-1$/,
      /2\^64-1/,
    ],
    [
      'negative offset',
      'steps:\n  - open h1 a\n  - lock h1 -1 1\n',
      /^s\.yaml:3: offset -1 is negative$/,
      /.*/,
    ],
    [
      'unknown key with a suggestion',
      'steps:\n  - open: h1\n    pth: a\n',
      /^s\.yaml:3: unknown key 'pth' in a open step$/,
      /did you mean 'path'/,
    ],
    [
      'unknown top-level key',
      'stpes: []\n',
      /^s\.yaml:1: unknown key 'stpes' in the scenario$/,
      /did you mean 'steps'/,
    ],
    ['no steps', 'name: x\n', /^s\.yaml:1: the scenario has no 'steps'$/, /steps:/],
    ['empty file', '', /^s\.yaml: the scenario is empty$/, /steps/],
    [
      'closed handle',
      'steps:\n  - open h1 a\n  - close h1\n  - read h1 0 1\n',
      /^s\.yaml:4: handle 'h1' was closed at line 3$/,
      /open it again/,
    ],
    [
      'handle opened twice',
      'steps:\n  - open h1 a\n  - open h1 b\n',
      /^s\.yaml:3: handle 'h1' is already open \(line 2\)$/,
      /close it first/,
    ],
    [
      'unknown step reference',
      'steps:\n  - open h1 a\n  - cancel o9\n',
      /^s\.yaml:3: unknown step 'o9'$/,
      /earlier step/,
    ],
    [
      'break request on a non-oplock step',
      'steps:\n  - open h1 a\n  - open: h2\n    path: a\n    expect:\n      breaks: [{ handle: h1, request: 1 }]\n',
      /^s\.yaml:6: step '1' is a open step, not an oplock request$/,
      /oplock step/,
    ],
    [
      'unknown status',
      'steps:\n  - open: h1\n    path: a\n    expect: { status: STATUS_NOPE }\n',
      /^s\.yaml:4: unknown NTSTATUS 'STATUS_NOPE'$/,
      /STATUS_SHARING_VIOLATION/,
    ],
    [
      'unknown verb',
      'steps:\n  - opne h1 a\n',
      /^s\.yaml:2: unknown step 'opne'$/,
      /did you mean 'open'/,
    ],
    [
      'two verbs',
      'steps:\n  - open: h1\n    close: h1\n    path: a\n',
      /^s\.yaml:3: step has two verbs, 'open' and 'close'$/,
      /one step per operation/,
    ],
    [
      'absolute path',
      'steps:\n  - open h1 C:\\\\x\n',
      /^s\.yaml:2: path 'C:\\\\x' is absolute$/,
      /relative/,
    ],
    [
      'bad access',
      'steps:\n  - open h1 a bogus\n',
      /^s\.yaml:2: unknown access right 'bogus'$/,
      /read, write/,
    ],
    [
      'setup file in a directory not set up',
      'setup: { files: [a.txt, d/b.txt] }\nsteps: [open h1 a.txt]\n',
      /^s\.yaml:1: the directory 'd' of 'd\/b\.txt' is not set up$/,
      /add d\/ to setup\.files/,
    ],
    [
      'duplicate key',
      'steps:\n  - { open: h1, open: h2, path: a }\n',
      /^s\.yaml:2: malformed YAML: Map keys must be unique$/,
      /.*/,
    ],
  ];
  for (const [name, text, message, hint] of cases) {
    it(name, () => {
      const e = errorOf(text);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toMatch(message);
      expect(e.hint ?? '').toMatch(hint);
      expect(e.message).not.toContain('\n');
    });
  }

  it('a missing file', async () => {
    await expect(loadScenario('test/scenario/no-such-file.yaml')).rejects.toThrow(
      /^test\/scenario\/no-such-file\.yaml: no such file$/,
    );
  });
});

describe('StepValidator', () => {
  it('check() does not change the handle state', () => {
    const v = new StepValidator('<shell>');
    v.add({ kind: 'scalar', line: 1, value: 'open h1 a.txt' });
    v.check({ kind: 'scalar', line: 2, value: 'close h1' });
    expect(v.openHandles()).toEqual(['h1']);
    v.add({ kind: 'scalar', line: 3, value: 'close h1' });
    expect(v.openHandles()).toEqual([]);
  });
});
