/**
 * The TS layout table against the header: its text (always), and what gcc (host) and clang for
 * x86_64-w64-windows-gnu compute from it (build/proto/{host,win}/layout.json, made by the
 * proto-layout suite).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  alignUp,
  CONSTANTS,
  FLTB_EVENT_TYPE_SLOTS,
  PAYLOAD_STRUCTS,
  payloadBytes,
  STRUCTS,
} from '../../src/protocol/index.js';
import { ALIGN_UP_INPUTS, generateLayoutC, LAYOUT_C_PATH } from '../c/proto_layout_gen.js';
import { unavailable } from '../helpers/toolchain.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const headerText = readFileSync(join(root, 'driver', 'include', 'fltbridge_proto.h'), 'utf8');

const C_TYPES: Record<string, string> = {
  FLTB_U8: 'u8',
  FLTB_U16: 'u16',
  FLTB_U32: 'u32',
  FLTB_I32: 'i32',
  FLTB_U64: 'u64',
  FLTB_I64: 'i64',
};

interface DumpField {
  name: string;
  type: string;
  offset: number;
  size: number;
}
interface DumpStruct {
  name: string;
  size: number;
  align: number;
  fields: DumpField[];
}
interface LayoutDump {
  target: string;
  compiler: string;
  dataModel: { long: number; pointer: number; wchar_t: number };
  structs: DumpStruct[];
  constants: Record<string, string | number[]>;
  payloadBytes: number[];
  alignUp: number[];
}

/** The type string the C dump gives a field: "u32", "u8[]", or a structure name. */
function expectedType(type: string, count: number): string {
  return count > 1 ? `${type}[]` : type;
}

describe('layout table vs the header text', () => {
  it('has every typedef struct of the header, in order, with the same fields and types', () => {
    const structs = [...headerText.matchAll(/typedef struct _(\w+) \{([\s\S]*?)\} (\w+);/g)];
    expect(structs.length).toBeGreaterThan(30);
    expect(structs.map((m) => m[3])).toEqual(STRUCTS.map((s) => s.name));
    for (const m of structs) {
      const table = STRUCTS.find((s) => s.name === m[3]);
      const fields = [...(m[2] ?? '').matchAll(/^\s*(FLTB_\w+)\s+(\w+)\s*(\[[^\]]+\])?;/gm)].map(
        (f) => ({
          name: f[2],
          type: C_TYPES[f[1] ?? ''] ?? f[1],
          array: f[3] !== undefined,
        }),
      );
      expect(fields, m[3]).toEqual(
        table?.fields.map((f) => ({ name: f.name, type: f.type, array: f.count > 1 })),
      );
    }
  });

  it("agrees with the header's own FLTB_ASSERT_SIZE / FLTB_ASSERT_OFFSET lines", () => {
    const sizes = [...headerText.matchAll(/^FLTB_ASSERT_SIZE\((\w+), (\d+)\);/gm)];
    const offsets = [...headerText.matchAll(/^FLTB_ASSERT_OFFSET\((\w+), (\w+), (\d+)\);/gm)];
    expect(sizes.length).toBe(STRUCTS.length);
    for (const [, name, size] of sizes) {
      expect(STRUCTS.find((s) => s.name === name)?.size, name).toBe(Number(size));
    }
    const fieldCount = STRUCTS.reduce((n, s) => n + s.fields.length, 0);
    expect(offsets.length).toBe(fieldCount);
    for (const [, name, field, offset] of offsets) {
      const s = STRUCTS.find((x) => x.name === name);
      expect(s?.fields.find((f) => f.name === field)?.offset, `${name}.${field}`).toBe(
        Number(offset),
      );
    }
  });

  it('names every object-like #define of the header, and no other', () => {
    const defined = [...headerText.matchAll(/^#define (FLTB_\w+)\b(?!\()/gm)]
      .map((m) => m[1] as string)
      .filter((name) => !name.startsWith('FLTB_STATIC_ASSERT') && !name.startsWith('FLTB_ASSERT'));
    expect(defined.sort()).toEqual(Object.keys(CONSTANTS).sort());
  });

  it('fields tile every structure: no gap, no overlap, nothing past the end', () => {
    for (const s of STRUCTS) {
      let next = 0;
      for (const f of s.fields) {
        expect(f.offset, `${s.name}.${f.name}`).toBe(next);
        next = f.offset + f.size;
      }
      expect(next, s.name).toBe(s.size);
      expect(s.size % s.align, s.name).toBe(0);
    }
  });

  it('has the payload table of FLTB_PAYLOAD_BYTES, each payload within FLTB_MAX_PAYLOAD_BYTES', () => {
    for (let t = 1; t <= 19; t++) {
      expect(PAYLOAD_STRUCTS[t], `type ${t}`).toBeDefined();
      expect(payloadBytes(t) % 8).toBe(0);
      expect(payloadBytes(t)).toBeLessThanOrEqual(CONSTANTS.FLTB_MAX_PAYLOAD_BYTES);
    }
    expect(payloadBytes(0)).toBe(0);
    expect(payloadBytes(20)).toBe(0);
  });

  it('test/c/proto_layout.c is what the generator makes from this table', () => {
    expect(readFileSync(LAYOUT_C_PATH, 'utf8')).toBe(generateLayoutC());
  });
});

const hostPath = join(root, 'build', 'proto', 'host', 'layout.json');
const winPath = join(root, 'build', 'proto', 'win', 'layout.json');
const skip = unavailable('proto-layout', [hostPath, winPath]);

describe.skipIf(skip !== undefined)(
  `layout as the C compilers compute it${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const load = (path: string): LayoutDump =>
      existsSync(path)
        ? (JSON.parse(readFileSync(path, 'utf8')) as LayoutDump)
        : ({} as LayoutDump);
    const host = load(hostPath);
    const win = load(winPath);

    it('comes from two different targets and data models (LP64 host, LLP64 Windows)', () => {
      expect(host.target).toBe('host');
      expect(win.target).toBe('x86_64-w64-windows-gnu');
      expect(win.compiler).toMatch(/clang/i);
      expect(host.dataModel).toEqual({ long: 8, pointer: 8, wchar_t: 4 });
      expect(win.dataModel).toEqual({ long: 4, pointer: 8, wchar_t: 2 });
    });

    it('host and Windows agree on every structure, field, constant and macro', () => {
      expect(win.structs).toEqual(host.structs);
      expect(win.constants).toEqual(host.constants);
      expect(win.payloadBytes).toEqual(host.payloadBytes);
      expect(win.alignUp).toEqual(host.alignUp);
    });

    it('dumps exactly the structures of the TS table', () => {
      expect(host.structs.map((s) => s.name)).toEqual(STRUCTS.map((s) => s.name));
    });

    for (const [label, dump] of [
      ['host gcc', host],
      ['clang x86_64-w64-windows-gnu', win],
    ] as const) {
      it.each(STRUCTS.map((s) => [s.name, s] as const))(
        `%s: size, alignment and every field's offset, size and type match (${label})`,
        (name, s) => {
          const c = dump.structs.find((x) => x.name === name);
          expect(c, name).toBeDefined();
          expect({ size: c?.size, align: c?.align }).toEqual({ size: s.size, align: s.align });
          expect(c?.fields).toEqual(
            s.fields.map((f) => ({
              name: f.name,
              type: expectedType(f.type, f.count),
              offset: f.offset,
              size: f.size,
            })),
          );
        },
      );

      it(`every constant has the value the header gives it (${label})`, () => {
        expect(Object.keys(dump.constants).sort()).toEqual(Object.keys(CONSTANTS).sort());
        for (const [name, value] of Object.entries(CONSTANTS)) {
          const c = dump.constants[name];
          if (typeof value === 'string') {
            expect(c, name).toEqual([...value].map((ch) => ch.charCodeAt(0)));
          } else {
            expect(BigInt(c as string), name).toBe(BigInt(value));
          }
        }
      });

      it(`FLTB_PAYLOAD_BYTES and FLTB_ALIGN_UP agree with the TS table (${label})`, () => {
        expect(dump.payloadBytes).toEqual(
          Array.from({ length: FLTB_EVENT_TYPE_SLOTS }, (_, t) => payloadBytes(t)),
        );
        expect(dump.alignUp).toEqual(ALIGN_UP_INPUTS.map(alignUp));
      });
    }
  },
);
