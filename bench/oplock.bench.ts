/**
 * Oplock package twin: per-operation cost of a grant, a check that breaks nothing and an
 * acknowledgement; and the cost of one write that breaks N shared oplocks, N = 10 / 1,000 / 10,000,
 * reported per holder side by side (it must stay flat: the break is linear in N).
 *
 * Run: npm run bench -- oplock
 */
import { Fsctl } from '../src/bridge/flags.js';
import {
  check,
  createOplock,
  type FsctlOperation,
  fsctrl,
  initialize,
  type Oplock,
  type OplockFileObject,
  type OplockOperation,
} from '../src/model/oplock/index.js';
import { formatNs, formatRatio, printTable, time, writeResults } from './lib/harness.js';

let nextId = 1n;
const noop = () => {};
const fo = (key?: string): OplockFileObject =>
  key === undefined
    ? { id: nextId++, synchronous: false }
    : { id: nextId++, synchronous: false, oplockKey: key };
const fsctl = (
  f: OplockFileObject,
  code: number,
  input?: FsctlOperation['input'],
): FsctlOperation => ({
  operationId: nextId++,
  processId: 1,
  fileObject: f,
  major: 'FILE_SYSTEM_CONTROL',
  fsControlCode: code,
  ...(input === undefined ? {} : { input }),
  complete: noop,
});
const win7 = (f: OplockFileObject, bits: number, flags: number) =>
  fsctl(f, Fsctl.FSCTL_REQUEST_OPLOCK, {
    structureVersion: 1,
    structureLength: 12,
    requestedOplockLevel: bits,
    flags,
  });
const op = (f: OplockFileObject, major: 'READ' | 'WRITE'): OplockOperation => ({
  operationId: nextId++,
  processId: 1,
  fileObject: f,
  major,
  offset: 0n,
  length: 4096,
});
const fresh = (): Oplock => {
  const o = createOplock();
  initialize(o);
  return o;
};

function now(): bigint {
  return process.hrtime.bigint();
}

// --- per-operation costs ----------------------------------------------------------------------

const BATCH = 1000;

// Grant: BATCH R requests on distinct keys into one oplock (then it is thrown away).
const grantFos = Array.from({ length: BATCH }, (_, i) => fo(`k${i}`));
const grant = time(
  () => {
    const o = fresh();
    for (const f of grantFos) fsctrl(o, win7(f, 1, 1), 0);
  },
  { opsPerCall: BATCH },
);

// Check with no break: reads from other handles against 10 Level 2 holders.
const noBreak = fresh();
for (let i = 0; i < 10; i++) fsctrl(noBreak, fsctl(fo(), Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2), 0);
const reader = fo();
const reads = Array.from({ length: BATCH }, () => op(reader, 'READ'));
const checkNoBreak = time(
  () => {
    for (const r of reads) check(noBreak, r, 0, undefined, noop, noop);
  },
  { opsPerCall: BATCH },
);

// Acknowledgement: BATCH oplocks each with an RW broken to R by a read; time only the acks.
function timeAcks(samples: number): { nsPerOp: number; bestNsPerOp: number } {
  const perOp: number[] = [];
  for (let s = 0; s < samples; s++) {
    const setups = Array.from({ length: BATCH }, () => {
      const o = fresh();
      const holder = fo();
      fsctrl(o, win7(holder, 5, 1), 1);
      check(o, op(fo(), 'READ'), 0, undefined, noop, noop);
      return { o, ack: win7(holder, 0, 2) };
    });
    const t0 = now();
    for (const { o, ack } of setups) fsctrl(o, ack, 0);
    perOp.push(Number(now() - t0) / BATCH);
  }
  perOp.sort((a, b) => a - b);
  return {
    nsPerOp: perOp[Math.floor(perOp.length / 2)] ?? Number.NaN,
    bestNsPerOp: perOp[0] ?? Number.NaN,
  };
}
const ack = timeAcks(15);

printTable(
  'oplock package twin: per-operation cost (median of samples)',
  ['operation', 'per op', 'best'],
  [
    ['grant (FSCTL_REQUEST_OPLOCK R)', formatNs(grant.nsPerOp), formatNs(grant.bestNsPerOp)],
    [
      'check, no break (read vs 10 Level 2)',
      formatNs(checkNoBreak.nsPerOp),
      formatNs(checkNoBreak.bestNsPerOp),
    ],
    ['ack (RW broken to R, ack to 0)', formatNs(ack.nsPerOp), formatNs(ack.bestNsPerOp)],
  ],
);

// --- a write breaking N shared oplocks --------------------------------------------------------

interface Scale {
  n: number;
  perBreakNs: number;
  perHolderNs: number;
}

/** Build `copies` oplocks with n R holders each; time one breaking write on each. */
function breakN(n: number, copies: number, samples: number): Scale {
  const perBreak: number[] = [];
  for (let s = 0; s < samples; s++) {
    const setups = Array.from({ length: copies }, () => {
      const o = fresh();
      for (let i = 0; i < n; i++) fsctrl(o, win7(fo(`h${i}`), 1, 1), 0);
      return o;
    });
    const writer = fo('writer');
    const writes = setups.map(() => op(writer, 'WRITE'));
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = now();
    for (let i = 0; i < copies; i++)
      check(setups[i] as Oplock, writes[i] as OplockOperation, 0, undefined, noop, noop);
    perBreak.push(Number(now() - t0) / copies);
  }
  perBreak.sort((a, b) => a - b);
  const perBreakNs = perBreak[Math.floor(perBreak.length / 2)] ?? Number.NaN;
  return { n, perBreakNs, perHolderNs: perBreakNs / n };
}

const scales = [breakN(10, 2000, 9), breakN(1000, 20, 9), breakN(10_000, 2, 9)];
const base = scales[0]?.perHolderNs ?? Number.NaN;
printTable(
  'one write breaking N R oplocks (no ack required): cost per holder must stay flat',
  ['N', 'per write', 'per holder', 'per holder vs N=10'],
  scales.map((s) => [
    String(s.n),
    formatNs(s.perBreakNs),
    formatNs(s.perHolderNs),
    formatRatio(s.perHolderNs / base),
  ]),
);
const last = scales[scales.length - 1];
console.log(
  `\nper-holder cost N=10,000 / N=10: ${formatRatio((last?.perHolderNs ?? Number.NaN) / base)} (linear growth keeps this near 1)`,
);

const file = writeResults('oplock', {
  perOperation: {
    grantNs: grant.nsPerOp,
    checkNoBreakNs: checkNoBreak.nsPerOp,
    ackNs: ack.nsPerOp,
  },
  breakN: scales,
  perHolderRatio10kTo10: (last?.perHolderNs ?? Number.NaN) / base,
});
console.log(`results: ${file}`);
