/**
 * Namespaces from DOS paths to CONFIGURE, over the fake addon (runs everywhere): which forms are
 * sent as they are, resolved through finalPath, or refused; the one-line errors; CONFIGURE
 * reaching the model's port twin with the NT paths and its counts coming back; the bridge's
 * `configure` option; forEachBackend's windows options.
 */
import { describe, expect, it } from 'vitest';
import {
  COMMAND_ONLY_CAPABILITIES,
  configureDriverWith,
  readDriverPolicyWith,
} from '../../src/backends/windows/configure.js';
import { IoSession } from '../../src/backends/windows/io.js';
import {
  classifyNamespacePath,
  type NamespaceInput,
  ntPathOf,
  resolveNamespaces,
} from '../../src/backends/windows/namespaces.js';
import {
  configureWindowsDriver,
  openWindowsBridge,
  readWindowsDriverPolicy,
} from '../../src/backends/windows.js';
import {
  InvalidArgumentError,
  PortError,
  UnsupportedPlatformError,
} from '../../src/bridge/errors.js';
import { type Command, decodeCommand, FLTB_CAP_EVENT_BATCHES } from '../../src/protocol/index.js';
import { defaultWindowsRoot } from '../../src/scenario/backends.js';
import { backendOpenOptions, windowsRoot } from '../../src/testing/index.js';
import { FakeAddon } from './fake-addon.js';

const CWD = 'C:\\work';

/** The CONFIGURE commands the fake port received, decoded. */
function configures(addon: FakeAddon): Command[] {
  return addon.sent.map((b) => decodeCommand(b)).filter((c) => c.command === 'configure');
}
const NT_FLTB = '\\Device\\HarddiskVolume3\\fltb';

/** A fake addon whose file system has C:\fltb (and a few more). */
function addonWithFs(): FakeAddon {
  const addon = new FakeAddon();
  addon.ntPaths.set('C:\\FLTB', NT_FLTB);
  addon.ntPaths.set('C:\\WORK\\SUB', '\\Device\\HarddiskVolume3\\work\\Sub');
  addon.ntPaths.set('\\\\?\\C:\\FLTB', NT_FLTB);
  addon.ntPaths.set('Z:\\SHARE', '\\Device\\Mup\\server\\share');
  addon.ntPaths.set('C:\\', '\\Device\\HarddiskVolume3\\');
  return addon;
}

async function resolve(addon: FakeAddon, specs: NamespaceInput[]) {
  const session = new IoSession(addon);
  try {
    return await resolveNamespaces(
      specs,
      (given, opened) => ntPathOf(addon, session, given, opened),
      CWD,
    );
  } finally {
    await session.close();
  }
}

async function rejection(promise: Promise<unknown>): Promise<InvalidArgumentError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe('classifyNamespacePath', () => {
  it('sends \\Device\\ paths as they are, without trailing backslashes', () => {
    expect(classifyNamespacePath(`${NT_FLTB}\\`, CWD)).toEqual({ form: 'nt', path: NT_FLTB });
    expect(classifyNamespacePath('\\device\\HarddiskVolume1', CWD)).toEqual({
      form: 'nt',
      path: '\\device\\HarddiskVolume1',
    });
  });

  it('makes DOS paths absolute against the working directory', () => {
    expect(classifyNamespacePath('C:/fltb/', CWD)).toEqual({ form: 'dos', path: 'C:\\fltb' });
    expect(classifyNamespacePath('sub', CWD)).toEqual({ form: 'dos', path: 'C:\\work\\sub' });
    expect(classifyNamespacePath('\\fltb', CWD)).toEqual({ form: 'dos', path: 'C:\\fltb' });
    expect(classifyNamespacePath('..\\fltb', CWD)).toEqual({ form: 'dos', path: 'C:\\fltb' });
  });

  it('takes DOS paths behind \\\\?\\, \\\\.\\, \\??\\ and \\GLOBAL??\\', () => {
    expect(classifyNamespacePath('\\\\?\\C:\\fltb', CWD)).toEqual({
      form: 'dos',
      path: '\\\\?\\C:\\fltb',
    });
    expect(classifyNamespacePath('//./C:/fltb', CWD)).toEqual({
      form: 'dos',
      path: '\\\\.\\C:\\fltb',
    });
    expect(classifyNamespacePath('\\??\\C:\\fltb', CWD)).toEqual({
      form: 'dos',
      path: 'C:\\fltb',
    });
    expect(classifyNamespacePath('\\GLOBAL??\\D:\\x', CWD)).toEqual({ form: 'dos', path: 'D:\\x' });
  });

  it('recognises UNC paths in every spelling', () => {
    for (const p of [
      '\\\\server\\share\\dir',
      '//server/share',
      '\\\\?\\UNC\\server\\share',
      '\\\\.\\unc\\server\\share',
      '\\??\\UNC\\server\\share',
    ]) {
      expect(classifyNamespacePath(p, CWD).form).toBe('unc');
    }
    expect(classifyNamespacePath('dir', '\\\\server\\share')).toEqual({
      form: 'unc',
      path: '\\\\server\\share\\dir',
    });
  });
});

describe('resolveNamespaces', () => {
  it('resolves DOS paths through finalPath and sends NT paths without opening anything', async () => {
    const addon = addonWithFs();
    const out = await resolve(addon, [
      { kind: 'managed', path: 'c:\\fltb\\' },
      { kind: 'observe', path: 'sub' },
      { kind: 'observe', path: '\\Device\\HarddiskVolume9\\not\\there\\' },
    ]);
    expect(out).toEqual([
      { kind: 'managed', path: NT_FLTB, given: 'c:\\fltb\\' },
      { kind: 'observe', path: '\\Device\\HarddiskVolume3\\work\\Sub', given: 'sub' },
      {
        kind: 'observe',
        path: '\\Device\\HarddiskVolume9\\not\\there',
        given: '\\Device\\HarddiskVolume9\\not\\there\\',
      },
    ]);
    // Opened as given (made absolute); the case on disk comes back from Windows.
    expect(addon.calls.filter((c) => c.fn === 'finalPath').map((c) => c.args[0])).toEqual([
      'c:\\fltb',
      'C:\\work\\sub',
    ]);
  });

  it('keeps a volume root as the device name', async () => {
    const out = await resolve(addonWithFs(), [{ kind: 'managed', path: 'C:\\' }]);
    expect(out[0]?.path).toBe('\\Device\\HarddiskVolume3');
  });

  it('says what to do when a path does not exist', async () => {
    const addon = addonWithFs();
    const e = await rejection(resolve(addon, [{ kind: 'managed', path: 'C:\\nope' }]));
    expect(e.message).toBe(
      'namespace C:\\nope does not exist (STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034))',
    );
    expect(e.hint).toBe(
      'create it first (mkdir C:\\nope), or give its NT path instead (\\Device\\HarddiskVolumeN\\...) to configure it before it exists',
    );
  });

  it('refuses UNC paths before opening them, and paths that turn out to be on a share', async () => {
    const addon = addonWithFs();
    const unc = await rejection(resolve(addon, [{ kind: 'managed', path: '\\\\srv\\share\\x' }]));
    expect(unc.message).toBe(
      'namespace \\\\srv\\share\\x is a UNC path: the minifilter attaches to local NTFS, ReFS, FAT and exFAT volumes only',
    );
    expect(unc.hint).toBe('use a directory on a local volume, such as C:\\fltb');
    expect(addon.calls.some((c) => c.fn === 'finalPath')).toBe(false);
    const mapped = await rejection(resolve(addon, [{ kind: 'managed', path: 'Z:\\share' }]));
    expect(mapped.message).toBe(
      'namespace Z:\\share is on a network volume (\\Device\\Mup\\server\\share): the minifilter attaches to local volumes only',
    );
  });

  it('names other failures with their status, and suggests elevation for access denied', async () => {
    const addon = addonWithFs();
    addon.script.set('finalPath', [{ status: 0xc0000022, win32: 5 }]);
    const e = await rejection(resolve(addon, [{ kind: 'managed', path: 'C:\\fltb' }]));
    expect(e.message).toBe(
      'cannot find the NT path of namespace C:\\fltb: opening it failed with STATUS_ACCESS_DENIED (0xC0000022)',
    );
    expect(e.hint).toMatch(/^run from an elevated prompt, or give its NT path instead/);
  });

  it('refuses one path both managed and observed, however it is spelled; keeps duplicates once', async () => {
    const addon = addonWithFs();
    const e = await rejection(
      resolve(addon, [
        { kind: 'managed', path: 'C:\\fltb' },
        { kind: 'observe', path: '\\DEVICE\\HARDDISKVOLUME3\\FLTB' },
      ]),
    );
    expect(e.message).toBe(
      `C:\\fltb and \\DEVICE\\HARDDISKVOLUME3\\FLTB are the same path (\\DEVICE\\HARDDISKVOLUME3\\FLTB), once managed and once observed`,
    );
    const twice = await resolve(addon, [
      { kind: 'managed', path: 'C:\\fltb' },
      { kind: 'managed', path: NT_FLTB },
    ]);
    expect(twice).toHaveLength(1);
  });

  it('refuses more than 32 namespaces, too long paths, empty paths and unknown kinds', async () => {
    const addon = addonWithFs();
    const many = Array.from({ length: 33 }, (_, i) => ({
      kind: 'managed' as const,
      path: `\\Device\\HarddiskVolume3\\d${i}`,
    }));
    expect((await rejection(resolve(addon, many))).message).toBe(
      '33 namespaces; the driver takes at most 32',
    );
    const long = `\\Device\\HarddiskVolume3\\${'x'.repeat(1100)}`;
    expect((await rejection(resolve(addon, [{ kind: 'managed', path: long }]))).message).toMatch(
      /is too long: its NT path has 1124 characters, the driver takes at most 1024$/,
    );
    await rejection(resolve(addon, [{ kind: 'managed', path: '' }]));
    await rejection(resolve(addon, [{ kind: 'other' as 'managed', path: 'C:\\fltb' }]));
  });
});

describe('CONFIGURE through the port (the model twin behind the fake addon)', () => {
  it('sends the NT paths, returns the counts, opens no event queue and closes what it opened', async () => {
    const addon = addonWithFs();
    const c = await configureDriverWith(addon, {
      namespaces: [
        { kind: 'managed', path: 'C:\\fltb' },
        { kind: 'observe', path: '\\Device\\HarddiskVolume4\\logs' },
      ],
      queueLimit: 1024,
      cwd: CWD,
    });
    expect(c.namespaces).toEqual([
      { kind: 'managed', path: NT_FLTB, given: 'C:\\fltb' },
      {
        kind: 'observe',
        path: '\\Device\\HarddiskVolume4\\logs',
        given: '\\Device\\HarddiskVolume4\\logs',
      },
    ]);
    expect(c.reply).toMatchObject({ managedCount: 1, observeCount: 1, queueLimit: 1024 });
    // On the wire: the NT paths.
    expect(configures(addon)).toMatchObject([
      {
        namespaces: [
          { kind: 'managed', path: NT_FLTB },
          { kind: 'observe', path: '\\Device\\HarddiskVolume4\\logs' },
        ],
        queueLimit: 1024,
      },
    ]);
    // What the driver (its twin) now holds.
    expect(addon.model.filter.policy.managedCount).toBe(1);
    expect(addon.model.filter.policy.observeCount).toBe(1);
    // HELLO without FLTB_CAP_EVENT_BATCHES: no event queue was created for this connection.
    expect(COMMAND_ONLY_CAPABILITIES & FLTB_CAP_EVENT_BATCHES).toBe(0);
    expect(addon.model.filter.events.subscribers).toBe(0);
    expect(addon.calls.some((c) => c.fn === 'portStart')).toBe(false);
    // The temporary I/O session and the port connection are gone.
    expect(addon.diagnostics()).toMatchObject({ sessions: 0, ports: 0 });
  });

  it('opens no I/O session when every path is an NT path; clears with []', async () => {
    const addon = addonWithFs();
    await configureDriverWith(addon, { namespaces: [{ kind: 'managed', path: NT_FLTB }] });
    expect(addon.calls.some((c) => c.fn === 'finalPath')).toBe(false);
    const cleared = await configureDriverWith(addon, { namespaces: [] });
    expect(cleared.reply).toMatchObject({ managedCount: 0, observeCount: 0 });
    expect(cleared.namespaces).toEqual([]);
  });

  it('reads the policy back as counts without changing it', async () => {
    const addon = addonWithFs();
    await configureDriverWith(addon, {
      namespaces: [{ kind: 'managed', path: 'C:\\fltb' }],
      cwd: CWD,
    });
    const policy = await readDriverPolicyWith(addon);
    expect(policy.settings).toMatchObject({ managedCount: 1, observeCount: 0 });
    expect(policy.stats.connections).toBe(1); // the reading connection itself
    // A CONFIGURE that sets nothing: no flags, no namespaces.
    const query = configures(addon).at(-1);
    expect(query).toBeDefined();
    expect(query && 'namespaces' in query).toBe(false);
    expect(addon.model.filter.policy.managedCount).toBe(1);
  });

  it('checks the queue limit before connecting', async () => {
    const addon = addonWithFs();
    const e = await rejection(configureDriverWith(addon, { queueLimit: 8 }));
    expect(e.message).toBe('queue limit 8 is out of range');
    expect(addon.calls.some((c) => c.fn === 'portConnect')).toBe(false);
  });

  it('reports a port that is not there with the HRESULT and what to do', async () => {
    const error = await configureDriverWith(
      addonWithFs(),
      { namespaces: [{ kind: 'managed', path: NT_FLTB }] },
      { name: '\\NoSuchPort' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortError);
    expect((error as PortError).hint).toContain('fltbridge driver load');
  });
});

describe("the bridge's configure option", () => {
  it('resolves DOS paths and says what it sent in bridge.configuration', async () => {
    const addon = addonWithFs();
    const bridge = await openWindowsBridge(addon, 'fake.node', {
      configure: { namespaces: [{ kind: 'managed', path: 'C:\\FLTB' }], cwd: CWD },
    });
    try {
      expect(bridge.configuration?.namespaces).toEqual([
        { kind: 'managed', path: NT_FLTB, given: 'C:\\FLTB' },
      ]);
      expect(bridge.configuration?.reply.managedCount).toBe(1);
      expect(configures(addon)).toMatchObject([
        { namespaces: [{ kind: 'managed', path: NT_FLTB }] },
      ]);
    } finally {
      await bridge.dispose();
    }
    expect(addon.diagnostics()).toMatchObject({ sessions: 0, ports: 0 });
  });

  it('fails on a path that does not resolve whatever the events mode; nothing is configured', async () => {
    const addon = addonWithFs();
    const e = await rejection(
      openWindowsBridge(addon, 'fake.node', {
        events: 'optional',
        configure: { namespaces: [{ kind: 'managed', path: 'C:\\missing' }], cwd: CWD },
      }),
    );
    expect(e.message).toMatch(/^namespace C:\\missing does not exist/);
    expect(addon.calls.some((c) => c.fn === 'portConnect')).toBe(false);
  });

  it('without configure sends no CONFIGURE', async () => {
    const bridge = await openWindowsBridge(addonWithFs(), 'fake.node');
    expect(bridge.configuration).toBeUndefined();
    await bridge.dispose();
  });
});

describe.skipIf(process.platform === 'win32')('off Windows', () => {
  it('configureWindowsDriver and readWindowsDriverPolicy need Windows', async () => {
    await expect(
      configureWindowsDriver({ namespaces: [{ kind: 'managed', path: 'C:\\fltb' }] }),
    ).rejects.toBeInstanceOf(UnsupportedPlatformError);
    await expect(readWindowsDriverPolicy()).rejects.toBeInstanceOf(UnsupportedPlatformError);
  });
});

describe("forEachBackend's windows options", () => {
  it('makes FLTBRIDGE_ROOT the managed namespace unless FLTBRIDGE_NO_CONFIGURE=1', () => {
    expect(backendOpenOptions('windows', { FLTBRIDGE_ROOT: 'D:\\hil' })).toEqual({
      windowsOptions: { configure: { namespaces: [{ kind: 'managed', path: 'D:\\hil' }] } },
    });
    expect(backendOpenOptions('windows', {})).toEqual({
      windowsOptions: {
        configure: { namespaces: [{ kind: 'managed', path: defaultWindowsRoot() }] },
      },
    });
    expect(
      backendOpenOptions('windows', { FLTBRIDGE_ROOT: 'D:\\hil', FLTBRIDGE_NO_CONFIGURE: '1' }),
    ).toEqual({});
    expect(backendOpenOptions('model', { FLTBRIDGE_ROOT: 'D:\\hil' })).toEqual({});
    expect(windowsRoot({ FLTBRIDGE_ROOT: '' })).toBe(defaultWindowsRoot());
  });
});
