// The CLI's namespace configuration on Windows, over a fake port (runs everywhere): driver
// configure and the policy part of driver status; run/diff/fuzz/shell's --root configuration;
// watch's --managed/--observe. The cases go through the real backend code (configureDriverWith
// over the fake addon, whose port is the model's port twin). The spawned CLI off Windows is in
// cli.test.ts ("namespaces off Windows").
import { existsSync, writeFileSync } from 'node:fs';
import { join, win32 } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configureDriverWith, readDriverPolicyWith } from '../../src/backends/windows/configure.js';
import { PortError } from '../../src/bridge/errors.js';
import type { Args } from '../../src/cli/command.js';
import { runDriverAction, runDriverConfigure } from '../../src/cli/commands/driver.js';
import { createContext, UsageError } from '../../src/cli/context.js';
import {
  configurationLine,
  configureRoot,
  type DriverPort,
  maskOf,
  maskTypes,
} from '../../src/cli/namespaces.js';
import type { DriverManager } from '../../src/cli/windows-driver.js';
import { decodeCommand } from '../../src/protocol/index.js';
import { FakeAddon } from '../native/fake-addon.js';
import { tempDir } from './helpers.js';

const NT_FLTB = '\\Device\\HarddiskVolume3\\fltb';

function capture() {
  let out = '';
  let err = '';
  const ctx = createContext({
    color: false,
    stdout: {
      write: (t: string) => {
        out += t;
      },
    },
    stderr: {
      write: (t: string) => {
        err += t;
      },
    },
  });
  return { ctx, out: () => out, err: () => err };
}

/** The CLI's port over the real backend code and the fake addon (the model's port twin). */
function portOver(addon: FakeAddon): DriverPort {
  return {
    configure: (options) => configureDriverWith(addon, { cwd: 'C:\\work', ...options }),
    policy: () => readDriverPolicyWith(addon),
  };
}

function addonWithFs(extra: Record<string, string> = {}): FakeAddon {
  const addon = new FakeAddon();
  addon.ntPaths.set('C:\\FLTB', NT_FLTB);
  addon.ntPaths.set('D:\\LOGS', '\\Device\\HarddiskVolume4\\logs');
  // Keys as the backend opens them: absolute against the fake working directory C:\work.
  for (const [dos, nt] of Object.entries(extra)) {
    addon.ntPaths.set(win32.resolve('C:\\work', dos).toUpperCase(), nt);
  }
  return addon;
}

function lastConfigure(addon: FakeAddon) {
  const sent = addon.sent.map((b) => decodeCommand(b)).filter((c) => c.command === 'configure');
  return sent.at(-1);
}

const args = (a: Record<string, unknown>) => ({ _: [], ...a }) as Args;

describe('fltbridge driver configure', () => {
  it('sends the NT paths, the mask and the queue limit, and prints the counts', async () => {
    const addon = addonWithFs();
    const { ctx, out } = capture();
    const code = await runDriverConfigure(
      args({
        managed: ['C:\\fltb'],
        observe: ['D:\\logs'],
        events: ['oplock,lock'],
        'queue-limit': 4096,
      }),
      ctx,
      portOver(addon),
    );
    expect(code).toBe(0);
    const sent = lastConfigure(addon);
    expect(sent).toMatchObject({
      namespaces: [
        { kind: 'managed', path: NT_FLTB },
        { kind: 'observe', path: '\\Device\\HarddiskVolume4\\logs' },
      ],
      queueLimit: 4096,
    });
    expect(sent && 'eventTypeMask' in sent ? sent.eventTypeMask : undefined).toBe(
      maskOf(['oplock-request', 'oplock-granted', 'oplock-break', 'oplock-acknowledged']) |
        maskOf(['oplock-break-completed', 'oplock-completed']) |
        maskOf(['lock-granted', 'lock-denied', 'lock-waiting', 'unlocked', 'unlock-all']),
    );
    expect(out()).toContain(
      `✓ fltbridge driver configured: managed C:\\fltb = ${NT_FLTB}, observe D:\\logs = \\Device\\HarddiskVolume4\\logs\n`,
    );
    expect(out()).toContain('  namespaces: 1 managed, 1 observed  events: oplock-request,');
    expect(out()).toContain('queue limit: 4096\n');
    expect(out()).toContain('the policy is global');
  });

  it('--json: one driver-configure record', async () => {
    const { ctx, out } = capture();
    await runDriverConfigure(
      args({ managed: ['C:\\fltb'], events: ['all'], json: true }),
      ctx,
      portOver(addonWithFs()),
    );
    expect(JSON.parse(out())).toEqual({
      v: 1,
      type: 'driver-configure',
      namespaces: [{ kind: 'managed', given: 'C:\\fltb', path: NT_FLTB }],
      managed: 1,
      observed: 0,
      eventTypeMask: String(0xffffen),
      events: 'all',
      queueLimit: 65536,
    });
  });

  it('--clear removes every namespace; --queue-limit alone leaves them', async () => {
    const addon = addonWithFs();
    const port = portOver(addon);
    const a = capture();
    await runDriverConfigure(args({ managed: ['C:\\fltb'] }), a.ctx, port);
    const limit = capture();
    await runDriverConfigure(args({ 'queue-limit': 16 }), limit.ctx, port);
    expect(lastConfigure(addon)).not.toHaveProperty('namespaces');
    expect(limit.out()).toContain('namespaces left as they were');
    expect(limit.out()).toContain('namespaces: 1 managed, 0 observed');
    const cleared = capture();
    await runDriverConfigure(args({ clear: true }), cleared.ctx, port);
    expect(lastConfigure(addon)).toMatchObject({ namespaces: [] });
    expect(cleared.out()).toContain('every namespace removed');
    expect(cleared.out()).toContain('namespaces: 0 managed, 0 observed');
  });

  it('usage errors: nothing to do, --clear with namespaces, a bad limit, an unknown type', async () => {
    const port = portOver(addonWithFs());
    const { ctx } = capture();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /^nothing to configure$/],
      [{ clear: true, managed: ['C:\\fltb'] }, /^--clear and --managed\/--observe together$/],
      [{ 'queue-limit': 8 }, /^--queue-limit 8 is out of range$/],
      [{ events: ['oplocks'] }, /^unknown event type 'oplocks'$/],
      [{ events: ['all,io'] }, /^--events all cannot be combined/],
    ];
    for (const [a, message] of cases) {
      const error = await runDriverConfigure(args(a), ctx, port).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as UsageError).message).toMatch(message);
    }
  });

  it('a directory that does not exist: one line naming what to do, nothing sent', async () => {
    const addon = addonWithFs();
    const error = await runDriverConfigure(
      args({ managed: ['C:\\nope'] }),
      capture().ctx,
      portOver(addon),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'namespace C:\\nope does not exist (STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034))',
    );
    expect((error as { hint?: string }).hint).toMatch(/^create it first \(mkdir C:\\nope\)/);
    expect(addon.sent).toEqual([]);
  });
});

describe('fltbridge driver status: the policy through the port', () => {
  const loaded: DriverManager = {
    install: async () => {},
    uninstall: async () => {},
    load: async () => {},
    unload: async () => {},
    status: async () =>
      ({
        installed: true,
        loaded: true,
        instances: ['C:'],
        instanceDetails: [],
        elevated: true,
      }) as unknown as Awaited<ReturnType<DriverManager['status']>>,
  };

  it('shows the namespace counts and says the driver reports no paths', async () => {
    const addon = addonWithFs();
    await portOver(addon).configure({ namespaces: [{ kind: 'managed', path: 'C:\\fltb' }] });
    const { ctx, out } = capture();
    expect(await runDriverAction('status', loaded, args({}), ctx, portOver(addon))).toBe(0);
    expect(out()).toContain(
      'namespaces: 1 managed, 0 observed (the driver reports counts, not paths; fltbridge driver configure sets them)\n',
    );
    expect(out()).toMatch(/events: all {2}queue limit: 65536 {2}managed streams: 0/);
    const j = capture();
    await runDriverAction('status', loaded, args({ json: true }), j.ctx, portOver(addon));
    expect(JSON.parse(j.out())).toMatchObject({
      type: 'driver-status',
      loaded: true,
      policy: { managed: 1, observed: 0, events: 'all', queueLimit: 65536 },
    });
  });

  it('a port that does not answer: counts unknown, with the reason; exit still from the manager', async () => {
    const failing: DriverPort = {
      configure: async () => {
        throw new Error('unused');
      },
      policy: async () => {
        throw new PortError(
          'FilterConnectCommunicationPort(\\FltBridgePort) failed with HRESULT 0x80070005',
          0x80070005,
          'run from an elevated prompt',
        );
      },
    };
    const { ctx, out } = capture();
    expect(await runDriverAction('status', loaded, args({}), ctx, failing)).toBe(0);
    expect(out()).toContain(
      'namespaces: unknown (the port could not be asked: FilterConnectCommunicationPort(\\FltBridgePort) failed with HRESULT 0x80070005 — run from an elevated prompt)',
    );
  });

  it('configure-only options on other actions are a usage error', async () => {
    const error = await runDriverAction(
      'load',
      loaded,
      args({ managed: ['C:\\fltb'] }),
      capture().ctx,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe('--managed belongs to fltbridge driver configure');
  });
});

describe('--root as the namespace (run, diff, fuzz, shell)', () => {
  it('configures the root as the only managed namespace and says so on stderr, once', async () => {
    const dir = tempDir();
    const root = join(dir, 'scenarios');
    const addon = addonWithFs({ [root]: '\\Device\\HarddiskVolume3\\scenarios' });
    const { ctx, err } = capture();
    const c = await configureRoot(args({ root }), ['windows'], ctx, portOver(addon));
    expect(existsSync(root)).toBe(true); // created: scenarios write there
    expect(c?.namespaces).toEqual([
      { kind: 'managed', given: root, path: '\\Device\\HarddiskVolume3\\scenarios' },
    ]);
    expect(err()).toBe(
      `fltbridge: configured the driver: managed ${root} = \\Device\\HarddiskVolume3\\scenarios (1 managed, 0 observed; every other namespace was replaced); the policy is global and stays after this command (--no-configure leaves it alone)\n`,
    );
  });

  it('--observe-root observes it; --no-configure and non-windows backends leave the driver alone', async () => {
    const root = tempDir();
    const addon = addonWithFs({ [root]: '\\Device\\HarddiskVolume3\\r' });
    const observed = await configureRoot(
      args({ root, 'observe-root': true }),
      ['model', 'windows'],
      capture().ctx,
      portOver(addon),
    );
    expect(observed?.reply).toMatchObject({ managedCount: 0, observeCount: 1 });
    expect(lastConfigure(addon)).toMatchObject({
      namespaces: [{ kind: 'observe', path: '\\Device\\HarddiskVolume3\\r' }],
    });
    const before = addon.sent.length;
    const quiet = capture();
    expect(
      await configureRoot(
        args({ root, configure: false }),
        ['windows'],
        quiet.ctx,
        portOver(addon),
      ),
    ).toBeUndefined();
    expect(
      await configureRoot(args({ root }), ['model', 'test'], quiet.ctx, portOver(addon)),
    ).toBeUndefined();
    expect(addon.sent.length).toBe(before);
    expect(quiet.err()).toBe('');
  });

  it('a UNC root is refused in one line before anything is created or sent', async () => {
    const addon = addonWithFs();
    const error = await configureRoot(
      args({ root: '\\\\server\\share\\fltb' }),
      ['windows'],
      capture().ctx,
      portOver(addon),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'namespace \\\\server\\share\\fltb is a UNC path: the minifilter attaches to local NTFS, ReFS, FAT and exFAT volumes only',
    );
    expect(addon.sent).toEqual([]);
  });

  it('a root that cannot be created is a usage error', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    const error = await configureRoot(
      args({ root: join(file, 'sub') }),
      ['windows'],
      capture().ctx,
      portOver(addonWithFs()),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(/^cannot create the root directory .*sub \(E/);
  });
});

describe('lines and masks', () => {
  it('describes a configuration in one line', () => {
    const reply = { eventTypeMask: 0n, queueLimit: 16, managedCount: 0, observeCount: 0 };
    expect(configurationLine({ namespaces: [], reply })).toBe(
      'cleared every namespace (0 managed, 0 observed)',
    );
    expect(configurationLine({ namespaces: undefined, reply })).toBe(
      'namespaces left as they were (0 managed, 0 observed)',
    );
    expect(
      configurationLine({
        namespaces: [{ kind: 'observe', given: NT_FLTB, path: NT_FLTB }],
        reply: { ...reply, observeCount: 1 },
      }),
    ).toBe(
      `configured the driver: observe ${NT_FLTB} (0 managed, 1 observed; every other namespace was replaced)`,
    );
  });

  it('masks to type names and back', () => {
    expect(maskTypes(0xffffen)).toBe('all');
    expect(maskTypes(maskOf(['io', 'io-refused']))).toBe('io-refused,io');
    expect(maskTypes(maskOf([]))).toBe('none');
  });
});
