/**
 * The scenario format: the parsed, validated form of a scenario file (what parse.ts produces and
 * the runner consumes) and the JSON Schema of the file format (docs/scenarios.schema.json is
 * written from `scenarioJsonSchema`; a test keeps the two equal).
 *
 * A scenario is a setup (files and directories) and a list of steps. Steps name handles ("h1"),
 * issue one operation each through the Bridge API, and may carry expectations about what the
 * step did: its NTSTATUS, Information, whether it is still in flight, bytes transferred, the
 * oplock breaks it caused and the earlier in-flight steps that completed during it.
 */

import type { OplockLevel, Win7OplockLevel } from '../bridge/flags.js';
import type { BackendName } from '../bridge/types.js';

export const STEP_VERBS = [
  'open',
  'close',
  'oplock',
  'ack',
  'break-notify',
  'read',
  'write',
  'lock',
  'unlock',
  'unlock-all',
  'unlock-all-by-key',
  'set-information',
  'flush',
  'cancel',
  'wait',
  'sleep',
] as const;
export type StepVerb = (typeof STEP_VERBS)[number];

/** Verbs whose value is a handle name (all but cancel, wait and sleep). */
export const HANDLE_VERBS: readonly StepVerb[] = STEP_VERBS.filter(
  (v) => v !== 'cancel' && v !== 'wait' && v !== 'sleep',
);

/** Where something came from in the scenario file. */
export interface SourceLocation {
  readonly file: string;
  /** 1-based; 0 when unknown (scenarios built in code). */
  readonly line: number;
}

/** What an expected NTSTATUS may be. */
export type StatusExpectation =
  | { readonly kind: 'codes'; readonly codes: readonly number[] }
  | { readonly kind: 'success' }
  | { readonly kind: 'failure' };

export interface BreakExpectation {
  /** The handle whose oplock is broken. */
  readonly handle: string;
  /** The step that issued the held oplock request (its id). */
  readonly request?: string;
  readonly from?: OplockLevel;
  readonly to?: OplockLevel;
  readonly ackRequired?: boolean;
  /** Completion status of the held request; breaks complete with STATUS_SUCCESS. */
  readonly status?: StatusExpectation;
  readonly information?: bigint;
  readonly line: number;
}

export interface CompletionExpectation {
  /** Id of the earlier step that completes. */
  readonly step: string;
  readonly status?: StatusExpectation;
  readonly information?: bigint;
  readonly bytes?: bigint;
  readonly line: number;
}

export interface Expectation {
  readonly status?: StatusExpectation;
  readonly information?: bigint;
  /** Still in flight when the next step starts. Absent means "must not be in flight". */
  readonly pending?: boolean;
  /** Bytes transferred (read, write). */
  readonly bytes?: bigint;
  /** Read steps: the bytes read, as UTF-8 text. */
  readonly data?: string;
  /** Oplock steps that complete: the level (newLevel) of the result. */
  readonly level?: OplockLevel;
  readonly ackRequired?: boolean;
  /** Oplock breaks the step causes. Absent means none (unless exact is false). */
  readonly breaks?: readonly BreakExpectation[];
  /** Earlier in-flight steps that complete during this step. Absent means none (unless exact is false). */
  readonly completes?: readonly CompletionExpectation[];
  /** When false, breaks and completions not listed are allowed. Default true. */
  readonly exact: boolean;
  readonly line: number;
}

interface StepCommon {
  /** 0-based position in the steps list. */
  readonly index: number;
  /** The step's id: `id:` from the file, or its 1-based number as a string. */
  readonly id: string;
  readonly line: number;
  /** Narration shown by `demo` and `run --verbose`. */
  readonly note?: string;
  readonly expect?: Expectation;
}

export interface OpenStep extends StepCommon {
  readonly verb: 'open';
  readonly handle: string;
  readonly path: string;
  /** ACCESS_MASK after parsing. */
  readonly access?: number;
  readonly share?: number;
  readonly disposition?: number;
  readonly options?: number;
  /** False opens a synchronous handle (FILE_SYNCHRONOUS_IO_NONALERT). Default true. */
  readonly overlapped?: boolean;
  readonly oplockKey?: string;
  readonly process?: number;
  readonly allocationSize?: bigint;
}

export interface CloseStep extends StepCommon {
  readonly verb: 'close';
  readonly handle: string;
}

export interface OplockStep extends StepCommon {
  readonly verb: 'oplock';
  readonly handle: string;
  readonly level: OplockLevel;
  readonly completeAckOnClose?: boolean;
}

export type AckKind = 'acknowledge' | 'ack-no-2' | 'ack-close-pending' | 'ack';

export interface AckStep extends StepCommon {
  readonly verb: 'ack';
  readonly handle: string;
  readonly kind: AckKind;
  /** Windows 7 acknowledgement (kind 'ack'): the level acknowledged to. */
  readonly level?: Win7OplockLevel | 'NONE';
  readonly completeAckOnClose?: boolean;
}

export interface BreakNotifyStep extends StepCommon {
  readonly verb: 'break-notify';
  readonly handle: string;
}

export interface ReadStep extends StepCommon {
  readonly verb: 'read';
  readonly handle: string;
  readonly offset: bigint;
  readonly length: number;
  readonly key?: number;
  readonly process?: number;
}

export interface WriteStep extends StepCommon {
  readonly verb: 'write';
  readonly handle: string;
  readonly offset: bigint;
  /** Text to write (UTF-8), or a length of filler bytes. */
  readonly data: string | number;
  readonly key?: number;
  readonly process?: number;
}

export interface LockStep extends StepCommon {
  readonly verb: 'lock';
  readonly handle: string;
  readonly offset: bigint;
  readonly length: bigint;
  readonly exclusive: boolean;
  /** Wait for the range (no LOCKFILE_FAIL_IMMEDIATELY). Default false. */
  readonly wait: boolean;
  readonly key?: number;
  readonly process?: number;
}

export interface UnlockStep extends StepCommon {
  readonly verb: 'unlock';
  readonly handle: string;
  readonly offset: bigint;
  readonly length: bigint;
  readonly key?: number;
  readonly process?: number;
}

export interface UnlockAllStep extends StepCommon {
  readonly verb: 'unlock-all';
  readonly handle: string;
  readonly process?: number;
}

export interface UnlockAllByKeyStep extends StepCommon {
  readonly verb: 'unlock-all-by-key';
  readonly handle: string;
  readonly key: number;
  readonly process?: number;
}

export type SetInformation =
  | { readonly class: 'end-of-file'; readonly size: bigint }
  | { readonly class: 'allocation'; readonly size: bigint }
  | { readonly class: 'rename'; readonly target: string; readonly replaceIfExists: boolean }
  | { readonly class: 'disposition'; readonly deleteFile: boolean };

export interface SetInformationStep extends StepCommon {
  readonly verb: 'set-information';
  readonly handle: string;
  readonly info: SetInformation;
}

export interface FlushStep extends StepCommon {
  readonly verb: 'flush';
  readonly handle: string;
}

export interface CancelStep extends StepCommon {
  readonly verb: 'cancel';
  /** Id of the in-flight step to cancel (CancelIoEx on its request). */
  readonly target: string;
}

export interface WaitStep extends StepCommon {
  readonly verb: 'wait';
  /** Ids of the in-flight steps to wait for. */
  readonly targets: readonly string[];
  /** Milliseconds before the wait gives up (a failure). Default 5000. */
  readonly timeoutMs?: number;
}

export interface SleepStep extends StepCommon {
  readonly verb: 'sleep';
  readonly ms: number;
}

export type Step =
  | OpenStep
  | CloseStep
  | OplockStep
  | AckStep
  | BreakNotifyStep
  | ReadStep
  | WriteStep
  | LockStep
  | UnlockStep
  | UnlockAllStep
  | UnlockAllByKeyStep
  | SetInformationStep
  | FlushStep
  | CancelStep
  | WaitStep
  | SleepStep;

export type HandleStep = Extract<Step, { readonly handle: string }>;

export function stepHandle(step: Step): string | undefined {
  return 'handle' in step ? step.handle : undefined;
}

export interface SetupEntry {
  readonly path: string;
  readonly directory: boolean;
  /** File size in bytes (filler); ignored for directories. */
  readonly size: bigint;
  /** Initial contents (UTF-8); when present the size is its length. */
  readonly data?: string;
  readonly line: number;
}

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  /** The file it came from ('<inline>' for scenarios built in code). */
  readonly file: string;
  readonly setup: readonly SetupEntry[];
  readonly steps: readonly Step[];
  /** Check the model invariants while running (what fuzz checks). */
  readonly invariants: boolean;
  /** Backends the scenario is written for; default all. */
  readonly backends?: readonly BackendName[];
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft 2020-12) of the file format, for editors and other tools.
// ---------------------------------------------------------------------------------------------

const u64 = {
  description:
    'Unsigned 64-bit integer: a number, or a string such as "18446744073709551615", "0xFFFF" or "2^64-1".',
  oneOf: [
    { type: 'integer', minimum: 0 },
    {
      type: 'string',
      pattern: '^\\s*(0[xX][0-9a-fA-F_]+|[0-9_]+|2\\^[0-9]+(\\s*-\\s*[0-9]+)?)\\s*$',
    },
  ],
};
const u32 = {
  oneOf: [{ type: 'integer', minimum: 0, maximum: 4294967295 }, { type: 'string' }],
};
const handleName = {
  type: 'string',
  pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$',
  description: 'A handle name, e.g. h1.',
};
const oplockLevel = {
  type: 'string',
  description: 'LEVEL1, LEVEL2, BATCH, FILTER (legacy), R, RW, RH, RWH (Windows 7) or NONE.',
  pattern: `^(${[
    'none',
    'level_?1',
    'level_?2',
    'l1',
    'l2',
    'ii',
    'batch',
    'filter',
    'r',
    'rw',
    'rh',
    'rwh',
  ]
    .map(anyCase)
    .join('|')})$`,
};

/** A regex source matching `word` in any letter case (JSON Schema patterns have no i flag). */
function anyCase(word: string): string {
  return word.replace(/[a-z]/g, (c) => `[${c.toUpperCase()}${c}]`);
}
const status = {
  description:
    'An NTSTATUS name (STATUS_SHARING_VIOLATION, or without the STATUS_ prefix), a hex code, "success", "failure", or a list of acceptable ones.',
  oneOf: [
    { type: 'string' },
    { type: 'integer', minimum: 0, maximum: 4294967295 },
    {
      type: 'array',
      minItems: 1,
      items: { oneOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] },
    },
  ],
};
const information = {
  description:
    'IoStatus.Information: a number or a name (FILE_OPENED, FILE_CREATED, FILE_OPLOCK_BROKEN_TO_LEVEL_2, FILE_OPLOCK_BROKEN_TO_NONE, FILE_OPBATCH_BREAK_UNDERWAY, ...).',
  oneOf: [{ type: 'string' }, u64],
};
const stepRef = { oneOf: [{ type: 'string' }, { type: 'integer', minimum: 1 }] };

const breakExpectation = {
  oneOf: [
    handleName,
    {
      type: 'object',
      additionalProperties: false,
      required: ['handle'],
      properties: {
        handle: handleName,
        request: stepRef,
        from: oplockLevel,
        to: oplockLevel,
        ackRequired: { type: 'boolean' },
        status,
        information,
      },
    },
  ],
};

const completionExpectation = {
  oneOf: [
    stepRef,
    {
      type: 'object',
      additionalProperties: false,
      required: ['step'],
      properties: { step: stepRef, status, information, bytes: u64 },
    },
  ],
};

const expectation = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status,
    information,
    pending: { type: 'boolean', description: 'Still in flight when the next step starts.' },
    bytes: u64,
    data: { type: 'string' },
    level: oplockLevel,
    ackRequired: { type: 'boolean' },
    breaks: { type: 'array', items: breakExpectation },
    completes: { type: 'array', items: completionExpectation },
    exact: {
      type: 'boolean',
      description: 'false allows breaks and completions the step does not list. Default true.',
    },
  },
};

const common = {
  id: { type: 'string', description: 'A name other steps use to refer to this one.' },
  note: { type: 'string', description: 'Narration printed by demo and run --verbose.' },
  expect: expectation,
};
const io = { key: u32, process: { type: 'integer', minimum: 1 } };

function verbStep(verb: string, value: object, properties: object, required: string[] = []) {
  return {
    type: 'object',
    additionalProperties: false,
    required: [verb, ...required],
    properties: { [verb]: value, ...common, ...properties },
  };
}

const stringOrList = { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };

export const scenarioJsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/fltbridge/fltbridge/docs/scenarios.schema.json',
  title: 'fltbridge scenario',
  description:
    'A scripted sequence of opens, oplock requests, acknowledgements, locks and I/O with expected outcomes. See docs/scenarios.md.',
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    invariants: { type: 'boolean', description: 'Check the model invariants while running.' },
    backends: { type: 'array', items: { enum: ['model', 'windows', 'remote'] } },
    setup: {
      type: 'object',
      additionalProperties: false,
      properties: {
        files: {
          type: 'array',
          items: {
            oneOf: [
              { type: 'string', description: 'A path; a trailing / makes it a directory.' },
              {
                type: 'object',
                additionalProperties: false,
                required: ['path'],
                properties: {
                  path: { type: 'string' },
                  size: u64,
                  data: { type: 'string' },
                  directory: { type: 'boolean' },
                },
              },
            ],
          },
        },
      },
    },
    steps: {
      type: 'array',
      items: {
        oneOf: [
          {
            type: 'string',
            description: 'A step in the shell syntax, e.g. "lock h1 0 100 excl".',
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['do'],
            properties: { do: { type: 'string' }, ...common },
          },
          verbStep(
            'open',
            handleName,
            {
              path: { type: 'string' },
              access: stringOrList,
              share: stringOrList,
              disposition: { type: 'string' },
              options: stringOrList,
              overlapped: { type: 'boolean' },
              synchronous: { type: 'boolean' },
              oplockKey: { type: 'string' },
              process: { type: 'integer', minimum: 1 },
              allocationSize: u64,
            },
            ['path'],
          ),
          verbStep('close', handleName, {}),
          verbStep(
            'oplock',
            handleName,
            { level: oplockLevel, completeAckOnClose: { type: 'boolean' } },
            ['level'],
          ),
          verbStep('ack', handleName, {
            kind: { enum: ['acknowledge', 'ack-no-2', 'ack-close-pending'] },
            level: oplockLevel,
            completeAckOnClose: { type: 'boolean' },
          }),
          verbStep('break-notify', handleName, {}),
          verbStep('read', handleName, { offset: u64, length: u32, ...io }, ['length']),
          verbStep('write', handleName, {
            offset: u64,
            length: u32,
            data: { type: 'string' },
            ...io,
          }),
          verbStep(
            'lock',
            handleName,
            {
              offset: u64,
              length: u64,
              exclusive: { type: 'boolean' },
              shared: { type: 'boolean' },
              wait: { type: 'boolean' },
              ...io,
            },
            ['offset', 'length'],
          ),
          verbStep('unlock', handleName, { offset: u64, length: u64, ...io }, ['offset', 'length']),
          verbStep('unlock-all', handleName, { process: io.process }),
          verbStep('unlock-all-by-key', handleName, io, ['key']),
          verbStep('set-information', handleName, {
            endOfFile: u64,
            allocation: u64,
            rename: { type: 'string' },
            replaceIfExists: { type: 'boolean' },
            delete: { type: 'boolean' },
          }),
          verbStep('flush', handleName, {}),
          verbStep('cancel', stepRef, {}),
          verbStep(
            'wait',
            { oneOf: [stepRef, { type: 'array', items: stepRef }] },
            {
              timeout: { type: 'integer', minimum: 0 },
            },
          ),
          verbStep('sleep', { type: 'integer', minimum: 0 }, {}),
        ],
      },
    },
  },
} as const;
