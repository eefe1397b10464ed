// The Windows side of driver and doctor, with a fake driver manager and bridge opener: what the
// commands print and exit with when the driver is missing, loaded, attached, or the port fails.
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, PortError } from '../../src/bridge/errors.js';
import type { Bridge } from '../../src/bridge/types.js';
import type { Args } from '../../src/cli/command.js';
import { collectChecks } from '../../src/cli/commands/doctor.js';
import { runDriverAction } from '../../src/cli/commands/driver.js';
import { createContext } from '../../src/cli/context.js';
import type { DriverManager } from '../../src/cli/windows-driver.js';

type Status = Awaited<ReturnType<DriverManager['status']>>;

function fakeManager(status: Partial<Status>, calls: string[] = []): DriverManager {
  const full: Status = {
    installed: false,
    loaded: false,
    instances: [],
    instanceDetails: [],
    elevated: true,
    ...status,
  } as Status;
  return {
    install: async (inf) => void calls.push(`install ${inf ?? ''}`),
    uninstall: async () => void calls.push('uninstall'),
    load: async () => void calls.push('load'),
    unload: async () => void calls.push('unload'),
    status: async () => full,
  };
}

const okBridge = async () => ({ dispose: async () => {} }) as unknown as Bridge;

function capture() {
  let out = '';
  const stdout = {
    write: (t: string) => {
      out += t;
    },
  };
  const ctx = createContext({ color: false, stdout });
  return { ctx, out: () => out };
}

describe('driver actions', () => {
  it('install, load, unload, uninstall call the manager and say so', async () => {
    const calls: string[] = [];
    const m = fakeManager({}, calls);
    const { ctx, out } = capture();
    expect(
      await runDriverAction('install', m, { _: [], inf: 'C:\\pkg\\fltbridge.inf' } as Args, ctx),
    ).toBe(0);
    expect(await runDriverAction('load', m, { _: [] } as Args, ctx)).toBe(0);
    expect(await runDriverAction('unload', m, { _: [] } as Args, ctx)).toBe(0);
    expect(await runDriverAction('uninstall', m, { _: [] } as Args, ctx)).toBe(0);
    expect(calls).toEqual(['install C:\\pkg\\fltbridge.inf', 'load', 'unload', 'uninstall']);
    expect(out()).toContain('✓ fltbridge driver installed; load it with: fltbridge driver load');
  });

  it('status: exit 0 when loaded, 3 when not; --json', async () => {
    const { ctx, out } = capture();
    const loaded = fakeManager({
      installed: true,
      loaded: true,
      instances: ['C:', 'D:'],
      altitude: '370030',
    });
    expect(await runDriverAction('status', loaded, { _: [] } as Args, ctx)).toBe(0);
    expect(out()).toContain('installed: yes  loaded: yes  altitude: 370030\nattached to: C:, D:');
    expect(
      await runDriverAction('status', fakeManager({ installed: true }), { _: [] } as Args, ctx),
    ).toBe(3);
    const j = capture();
    await runDriverAction('status', loaded, { _: [], json: true } as Args, j.ctx);
    expect(JSON.parse(j.out())).toMatchObject({
      v: 1,
      type: 'driver-status',
      loaded: true,
      instances: ['C:', 'D:'],
    });
  });
});

describe('doctor on Windows', () => {
  it('everything ready', async () => {
    const checks = await collectChecks('win32', {
      manager: async () =>
        fakeManager({ installed: true, loaded: true, instances: ['C:'], testSigning: true }),
      openBridge: okBridge,
    });
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(checks.every((c) => c.state === 'ok')).toBe(true);
    expect(by.attached?.detail).toBe('to C:');
    expect(by.port?.detail).toBe('connected to \\FltBridgePort');
  });

  it('not elevated, test signing off with Secure Boot, driver not installed, port unreachable', async () => {
    const checks = await collectChecks('win32', {
      manager: async () => fakeManager({ elevated: false, testSigning: false, secureBoot: true }),
      openBridge: async () => {
        throw new PortError(
          'cannot connect to \\FltBridgePort (0x80070002)',
          0x80070002,
          'load the driver',
        );
      },
    });
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(by.administrator).toMatchObject({ state: 'warn' });
    expect(by['test signing']?.detail).toMatch(
      /bcdedit \/set testsigning on, then reboot \(turn Secure Boot off first\)/,
    );
    expect(by.driver).toMatchObject({
      state: 'fail',
      detail: 'not installed: fltbridge driver install, then fltbridge driver load',
    });
    expect(by.port).toMatchObject({
      state: 'fail',
      detail: 'cannot connect to \\FltBridgePort (0x80070002) — load the driver',
    });
  });

  it('the addon does not load', async () => {
    const checks = await collectChecks('win32', {
      manager: async () => fakeManager({ installed: true, loaded: true, instances: [] }),
      openBridge: async () => {
        throw new BackendUnavailableError('windows', 'fltbridge.node was not found');
      },
    });
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(by.attached).toMatchObject({ state: 'warn' });
    expect(by.addon).toMatchObject({ state: 'fail' });
  });
});
