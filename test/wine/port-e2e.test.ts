/**
 * The port end to end under Wine: the real addon's connect, FilterSendMessage and IOCP event pump
 * against real bytes from the model's port twin (src/model/filter/comm.ts), carried by the fltlib
 * double (test/wine/fltlib-double) and test/wine/port-server.ts. Observations come from
 * test/wine/scripts/port-e2e.mjs (the client's view) and the server's own report (what it sent).
 */
import { describe, expect, it } from 'vitest';
import { unavailable } from '../helpers/toolchain.js';
import { type Json, loadResult, resultPath, S } from './results.js';

const skip = unavailable('wine', [
  resultPath('port-e2e'),
  resultPath('port-server'),
  resultPath('port-idle-exit'),
]);

const hr = (status: number) => status; // readability: HRESULT literals below

describe.skipIf(skip !== undefined)(
  `port through the fltlib double${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const r: Json = skip ? {} : loadResult('port-e2e');
    const server: Json = skip ? {} : loadResult('port-server');

    it('refuses a connection context below the protocol version: ERROR_REVISION_MISMATCH', () => {
      expect(r.contextMismatch).toMatchObject({
        name: 'PortError',
        code: 'E_PORT',
        hresult: hr(0x8007051a),
      });
      expect(r.contextMismatch.message).toContain('HRESULT 0x8007051A');
      expect(server.refusals).toContain(S.REVISION_MISMATCH);
    });

    it('says which side to upgrade when HELLO finds no common version', () => {
      expect(r.helloMismatch).toMatchObject({ name: 'PortError', code: 'E_PORT' });
      expect(r.helloMismatch.message).toContain(
        'the driver speaks protocol version 1, this library 2..3',
      );
      expect(r.helloMismatch.message).toContain('STATUS_REVISION_MISMATCH');
    });

    it('answers a port that does not exist with ERROR_FILE_NOT_FOUND and what to do', () => {
      expect(r.wrongName).toMatchObject({ code: 'E_PORT', hresult: hr(0x80070002) });
      expect(r.wrongName.hint).toContain('fltbridge driver load');
      expect(server.refusals).toContain(S.OBJECT_NAME_NOT_FOUND);
    });

    it('says HELLO and CONFIGURE through FilterSendMessage', () => {
      expect(r.capabilities).toEqual({ oplocks: false, events: true, processes: false });
      expect(r.version).toBe(1);
      expect(r.hello).toMatchObject({ protocolVersion: 1, maxBatchBytes: 65536, capabilities: 31 });
      expect(r.configure).toMatchObject({ queueLimit: 1048576 });
    });

    it('resolves DOS paths to the NT paths Wine gives (GetFinalPathNameByHandleW, VOLUME_NAME_NT)', () => {
      const ns = r.namespaces;
      // Wine's prefix: C: is \Device\HarddiskVolume1; the case stored on disk comes back, a
      // trailing backslash and the \\?\ prefix do not matter. (Windows: \Device\HarddiskVolumeN.)
      const nt = '\\Device\\HarddiskVolume1\\fltb-e2e\\Managed Dir';
      expect(ns.wineNt).toEqual({
        'C:\\fltb-e2e\\Managed Dir': nt,
        'c:\\FLTB-E2E\\MANAGED DIR\\': nt,
        '\\\\?\\C:\\fltb-e2e\\Managed Dir': nt,
        'C:\\': '\\Device\\HarddiskVolume1',
      });
      // Raw completions: the volume root keeps its backslash (the backend drops it, as the
      // driver does); a missing path is STATUS_OBJECT_NAME_NOT_FOUND from the thread's status.
      expect(ns.raw.root).toEqual({
        status: 0,
        win32: 0,
        source: 1,
        information: '48',
        name: '\\Device\\HarddiskVolume1\\',
      });
      expect(ns.raw.missing).toMatchObject({ status: S.OBJECT_NAME_NOT_FOUND, win32: 2, name: '' });
    });

    it('sends CONFIGURE with those NT paths; the server got them and the counts came back', () => {
      const ns = r.namespaces;
      const sent = [
        { kind: 'managed', path: '\\Device\\HarddiskVolume1\\fltb-e2e\\Managed Dir' },
        { kind: 'observe', path: '\\Device\\HarddiskVolume7\\elsewhere' },
      ];
      expect(ns.configured.namespaces).toEqual([
        { ...sent[0], given: 'c:\\FLTB-E2E\\managed dir\\' },
        { ...sent[1], given: '\\Device\\HarddiskVolume7\\elsewhere' },
      ]);
      expect(ns.configured.reply).toMatchObject({ managedCount: 1, observeCount: 1 });
      // What reached the port twin, byte-decoded on the Linux side, and what it answered; then
      // the read-back (a CONFIGURE that sets nothing) reporting the same counts.
      expect(ns.serverSaw).toEqual([
        {
          namespaces: sent,
          queueLimit: null,
          eventTypeMask: null,
          status: 0,
          managedCount: 1,
          observeCount: 1,
        },
        {
          namespaces: null,
          queueLimit: null,
          eventTypeMask: null,
          status: 0,
          managedCount: 1,
          observeCount: 1,
        },
      ]);
      expect(ns.policy).toEqual({ managedCount: 1, observeCount: 1 });
    });

    it('refuses a missing directory and a UNC path in one line each, sending nothing', () => {
      const ns = r.namespaces;
      expect(ns.missing).toMatchObject({
        name: 'InvalidArgumentError',
        code: 'E_INVALID_ARGUMENT',
      });
      expect(ns.missing.message).toBe(
        'namespace C:\\fltb-e2e\\missing does not exist (STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034))',
      );
      expect(ns.missing.hint).toMatch(/^create it first \(mkdir C:\\fltb-e2e\\missing\)/);
      expect(ns.unc).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      expect(ns.unc.message).toMatch(/is a UNC path: the minifilter attaches to local/);
      expect(ns.serverSaw).toHaveLength(2);
    });

    it("configures a DOS path through the bridge's configure option", () => {
      expect(r.bridgeConfiguration).toEqual({
        namespaces: [{ kind: 'managed', path: '\\Device\\HarddiskVolume1', given: 'C:\\' }],
        reply: {
          eventTypeMask: '1048574',
          queueLimit: 1048576,
          managedCount: 1,
          observeCount: 0,
        },
      });
      expect(server.configures.at(-1)).toMatchObject({
        namespaces: [{ kind: 'managed', path: '\\Device\\HarddiskVolume1' }],
        managedCount: 1,
      });
    });

    it('delivers 100,000 events with no loss and exact sequence numbers', () => {
      const s = r.stream;
      expect(s.completed).toBe(true);
      expect(s.received).toBe(100000);
      expect(s.first).toBe(s.produced.firstSequence);
      expect(BigInt(s.last)).toBe(BigInt(s.produced.nextSequence) - 1n);
      expect(BigInt(s.last) - BigInt(s.first) + 1n).toBe(100000n);
      expect(s.outOfOrder).toBe(0);
      expect(s.dropped).toEqual([]);
      expect(s.types).toEqual({ io: 100000 });
      expect(s.errors).toBe(0);
      expect(s.portEventStats).toMatchObject({ events: 100000, dropped: '0', protocolErrors: 0 });
      expect(s.nativeStats).toMatchObject({ failed: false, armed: 4, parked: 0 });
      expect(s.nativeStats.messages).toBe(s.portEventStats.batches);
      expect(s.eventsPerSecond).toBeGreaterThan(1000);
    });

    it('shows an injected drop as an exact gap: one dropped record covering it', () => {
      const d = r.drop;
      expect(d.firstPartArrived).toBe(true);
      expect(d.lastPartArrived).toBe(true);
      // 40 events into a 16-record queue: 16 delivered, 24 dropped, then the next event.
      expect(d.receivedAfterBurst).toBe(17);
      const first = BigInt(d.burst.firstSequence);
      expect(d.dropped).toEqual([
        { seq: String(first + 16n), firstSequence: String(first + 16n), count: '24' },
      ]);
      expect(d.next.firstSequence).toBe(String(first + 40n));
      expect(d.outOfOrder).toBe(0);
      expect(d.portEventStats).toMatchObject({ dropped: '24', protocolErrors: 0 });
      expect(BigInt(d.stats.eventsProduced)).toBe(BigInt(d.stats.nextSequence) - 1n);
    });

    it('settles: FLUSH_EVENTS, then every event before NextSequence was delivered', () => {
      expect(BigInt(r.settle.nextSequence)).toBe(BigInt(r.settle.last) + 1n);
    });

    it('refuses the fifth connection with ERROR_CONNECTION_COUNT_LIMIT', () => {
      expect(r.connectionsBeforeLimit).toBe(1);
      expect(r.connectionLimit.slice(0, 3)).toEqual(['connected', 'connected', 'connected']);
      expect(r.connectionLimit[3]).toMatchObject({ code: 'E_PORT', hresult: hr(0x800704d6) });
      expect(server.refusals).toContain(S.CONNECTION_COUNT_LIMIT);
    });

    it('shuts down with reads outstanding: nothing native is left', () => {
      expect(r.shutdown.armedBefore).toBe(4);
      expect(r.shutdown.diagnostics).toMatchObject({
        operations: 0,
        pumpThreads: 0,
        runnerThreads: 0,
        ports: 0,
        sessions: 0,
      });
    });

    it('reports the server vanishing mid-stream as one clean error, after every event it sent', () => {
      const v = r.vanish;
      expect(r.connectionsBeforeVanish).toBe(0);
      expect(v.failed).toBe(true);
      expect(v.error).toMatchObject({ name: 'PortError', code: 'E_PORT' });
      expect(v.error.hint).toContain('fltbridge driver status');
      expect(v.serverVanished).toBe(true);
      expect(v.serverRecordsSent).toBeGreaterThanOrEqual(5000);
      expect(v.received).toBe(v.serverRecordsSent);
      expect(BigInt(v.last) - BigInt(v.first) + 1n).toBe(BigInt(v.received));
      expect(v.outOfOrder).toBe(0);
      expect(v.sendAfter).toMatchObject({ code: 'E_PORT' });
      expect(v.disposed).toBe(true);
      expect(v.reconnect).toMatchObject({ code: 'E_PORT', hresult: hr(0x80070002) });
      expect(v.diagnostics).toMatchObject({
        operations: 0,
        pumpThreads: 0,
        runnerThreads: 0,
        ports: 0,
        sessions: 0,
      });
      expect(r.errorsDuringStream).toEqual([]);
    });

    it('lets a script that stopped listening exit by itself, reads still outstanding', () => {
      const idle: Json = loadResult('port-idle-exit');
      expect(idle).toMatchObject({ received: 100, settled: true, armed: 4, exitCode: 0 });
      expect(idle.processMs).toBeLessThan(20_000);
    });

    it('matches the server: every connection it accepted went away', () => {
      expect(server.vanished).toBe(true);
      expect(server.disconnects).toBe(server.connects);
      expect(server.connections).toBe(0);
    });
  },
);
