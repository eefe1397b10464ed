import { describe, expect, it } from 'vitest';
import { BreakFlag, type BridgeEvent, LockFlag } from '../../src/bridge/events.js';
import { U64_MAX } from '../../src/bridge/flags.js';
import { globMatcher, parseTypes } from '../../src/cli/commands/watch.js';
import { UsageError } from '../../src/cli/context.js';
import { colorEnabled, palette, visibleLength } from '../../src/cli/render/color.js';
import { eventFromObject, eventLine, eventObject, toJson } from '../../src/cli/render/jsonl.js';
import { EventTable } from '../../src/cli/render/table.js';
import { eventDetail, eventSignature, operationLabel } from '../../src/scenario/event-text.js';

const base = {
  seq: 7n,
  timestamp: 133_000_000_000_000_000n,
  processId: 2,
  threadId: 2,
  streamId: 1n,
  fileObjectId: 5n,
  operationId: 9n,
  status: 0,
  flags: 1,
  name: 'C:\\report.docx',
};

const brk: BridgeEvent = {
  ...base,
  type: 'oplock-break',
  fromLevel: 'RWH',
  toLevel: 'RH',
  breakFlags: BreakFlag.ACK_REQUIRED | BreakFlag.OPERATION_WAITS,
  information: 0,
  causedByOperationId: 12n,
  causedByMajor: 0,
  causedByMinor: 0,
  causedByProcessId: 2,
};

const lock: BridgeEvent = {
  ...base,
  seq: 8n,
  type: 'lock-denied',
  status: 0xc0000055,
  offset: U64_MAX,
  length: 1n,
  key: 3,
  lockFlags: LockFlag.EXCLUSIVE | LockFlag.FAIL_IMMEDIATELY,
  relatedOperationId: 0n,
};

describe('colour', () => {
  it('follows FORCE_COLOR, NO_COLOR, --no-color and the TTY', () => {
    expect(colorEnabled({ isTTY: true }, { TERM: 'xterm' })).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { TERM: 'xterm' }, false)).toBe(false);
    expect(palette(true).red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(palette(false).red('x')).toBe('x');
    expect(visibleLength(palette(true).bold('abc'))).toBe(3);
  });
});

describe('event text', () => {
  it('labels and details name levels, flags, causes and exact 64-bit ranges', () => {
    expect(operationLabel(brk)).toBe('OPLOCK_BREAK');
    expect(eventDetail(brk)).toBe('RWH→RH ack required, caller waits by op 12 (CREATE, pid 2)');
    expect(operationLabel(lock)).toBe('LOCK_DENIED');
    expect(eventDetail(lock)).toBe('[2^64-1, +1) excl key=3');
  });

  it('signatures leave out ids, sequence numbers and times', () => {
    const labels = new Map([[5n, 'h1']]);
    const a = eventSignature(brk, labels);
    const b = eventSignature(
      { ...brk, seq: 100n, operationId: 55n, timestamp: 1n, processId: 999 } as BridgeEvent,
      labels,
    );
    expect(a).toBe(b);
    expect(a).toContain('h1');
    expect(eventSignature({ ...brk, toLevel: 'R' } as BridgeEvent, labels)).not.toBe(a);
  });
});

describe('table', () => {
  it('writes the columns in order, with the NTSTATUS name last', () => {
    const lines: string[] = [];
    const t = new EventTable((l) => lines.push(l), { palette: palette(false), time: 'relative' });
    t.header();
    t.row(brk, new Map([[5n, 'a']]));
    t.row(lock, new Map());
    expect(lines[0]).toMatch(/^TIME\s+SEQ\s+PID\s+HANDLE\s+OPERATION\s+PATH\s+DETAIL\s+RESULT$/);
    expect(lines[1]).toMatch(
      /^\+0\.000000\s+7\s+2 a\s+OPLOCK_BREAK\s+C:\\report\.docx\s+RWH→RH .*STATUS_SUCCESS$/,
    );
    expect(lines[2]).toMatch(/#5\s+LOCK_DENIED .*STATUS_LOCK_NOT_GRANTED$/);
  });
});

describe('JSON Lines', () => {
  it('one object per line with v:1, type, 64-bit values as strings, and a round trip', () => {
    const line = eventLine(lock, new Map([[5n, 'h2']]));
    expect(line).not.toContain('\n');
    const obj = JSON.parse(line);
    expect(obj).toMatchObject({ v: 1, type: 'event' });
    expect(obj.event).toMatchObject({
      type: 'lock-denied',
      seq: '8',
      offset: '18446744073709551615',
      statusName: 'STATUS_LOCK_NOT_GRANTED',
      handle: 'h2',
    });
    expect(obj.event.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(eventFromObject(JSON.parse(toJson(eventObject(lock))))).toEqual(lock);
    expect(eventFromObject(JSON.parse(toJson(eventObject(brk))))).toEqual(brk);
    expect(eventFromObject({ type: 'x' })).toBeUndefined();
  });
});

describe('watch filters', () => {
  it('globs match trailing path parts, case-insensitively, with either separator', () => {
    const m = globMatcher('*.docx');
    expect(m('C:\\dir\\Report.DOCX')).toBe(true);
    expect(m('C:\\dir\\report.txt')).toBe(false);
    expect(globMatcher('dir/*.txt')('C:\\dir\\a.txt')).toBe(true);
    expect(globMatcher('dir/*.txt')('C:\\dir\\sub\\a.txt')).toBe(false);
    expect(globMatcher('**/a.txt')('C:\\x\\y\\a.txt')).toBe(true);
    expect(m(undefined)).toBe(false);
  });

  it('types and families, dropped always included, unknown refused', () => {
    const t = parseTypes(['oplock', 'create']);
    expect(t?.has('oplock-break')).toBe(true);
    expect(t?.has('create')).toBe(true);
    expect(t?.has('dropped')).toBe(true);
    expect(t?.has('lock-granted')).toBe(false);
    expect(parseTypes([])).toBeUndefined();
    expect(() => parseTypes(['oplok'])).toThrow(UsageError);
  });
});
