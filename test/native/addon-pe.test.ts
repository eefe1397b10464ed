/**
 * The PE contract of the cross-built fltbridge.node (suite 'addon' builds it), read with the
 * project's PE parser: a PE32+ x86-64 DLL importing only KERNEL32, the C runtime and FLTLIB,
 * with NODE.EXE delay-loaded for the Node-API functions and nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Directory, IMAGE_FILE_MACHINE_AMD64, parsePe } from '../helpers/pe.js';
import { unavailable } from '../helpers/toolchain.js';

const file = join(import.meta.dirname, '..', '..', 'build', 'native', 'Release', 'fltbridge.node');
const skip = unavailable('addon', [file]);

describe.skipIf(skip !== undefined)(
  `fltbridge.node imports${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const image = skip ? undefined : parsePe(readFileSync(file));

    it('is a PE32+ x86-64 DLL', () => {
      expect(image?.machine).toBe(IMAGE_FILE_MACHINE_AMD64);
      expect(image?.magic).toBe(0x20b);
      expect((image?.characteristics ?? 0) & 0x2000).toBe(0x2000);
    });

    it('imports only KERNEL32, msvcrt and FLTLIB (the three port functions)', () => {
      const dlls = (image?.imports ?? []).map((i) => i.dll.toUpperCase()).sort();
      expect(dlls).toEqual(['FLTLIB.DLL', 'KERNEL32.DLL', 'MSVCRT.DLL']);
      const fltlib = image?.imports.find((i) => i.dll.toUpperCase() === 'FLTLIB.DLL');
      expect([...(fltlib?.names ?? [])].sort()).toEqual([
        'FilterConnectCommunicationPort',
        'FilterGetMessage',
        'FilterSendMessage',
      ]);
    });

    it('delay-loads NODE.EXE, for Node-API functions only', () => {
      expect(image?.directories[Directory.DELAY_IMPORT]?.size).toBe(64);
      const delay = image?.delayImports ?? [];
      expect(delay.map((d) => d.dll)).toEqual(['NODE.EXE']);
      const names = delay[0]?.names ?? [];
      expect(names.length).toBeGreaterThan(20);
      expect(names.filter((n) => !/^(napi|node_api)_/.test(n))).toEqual([]);
      expect(names).toContain('napi_create_threadsafe_function');
    });
  },
);
