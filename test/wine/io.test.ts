/**
 * Test-client I/O under Wine: the real addon and the windows backend, run by Windows node.exe
 * against Wine's file system (test/wine/scripts/io.mjs, host.mjs, idle-exit.mjs). Where Wine
 * answers differently from Windows the test pins Wine's answer and says what Windows gives; those
 * lines are in docs/addon.md's list of what only Windows can verify.
 */
import { describe, expect, it } from 'vitest';
import { unavailable } from '../helpers/toolchain.js';
import { type Json, loadResult, resultPath, S } from './results.js';

const skip = unavailable('wine', [resultPath('io'), resultPath('host'), resultPath('idle-exit')]);

describe.skipIf(skip !== undefined)(
  `test-client I/O under Wine${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const r: Json = skip ? {} : loadResult('io');

    it('runs as win32 with the cross-built addon under Wine', () => {
      expect(r.platform).toBe('win32');
      expect(r.addon).toMatchObject({ addon: '0.1.0', napi: 8, protocol: 1 });
      expect(typeof r.addon.wine).toBe('string');
      expect(r.diagnosticsStart).toMatchObject({ operations: 0, fileHandles: 0, handles: 0 });
    });

    it("refuses the port with a typed error naming Wine's E_NOTIMPL", () => {
      for (const e of [r.portRequired, r.portOptional]) {
        expect(e).toMatchObject({ name: 'PortError', code: 'E_PORT', hresult: 0x80004001 });
        expect(e.message).toContain('HRESULT 0x80004001 (E_NOTIMPL');
        expect(e.hint).toContain('model backend');
      }
      expect(r.capabilities).toEqual({ oplocks: false, events: false, processes: false });
      expect(r.subscribeWithoutPort).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
      expect(r.subscribeWithoutPort.message).toContain('0x80004001');
    });

    it('reports sharing violations and create dispositions with NTSTATUS and Win32 error', () => {
      const s = r.sharing;
      expect(s.first).toMatchObject({ status: S.SUCCESS, information: '2' }); // FILE_CREATED
      expect(s.denied).toMatchObject({ status: S.SHARING_VIOLATION, win32: 32 });
      expect(s.pathNotFound).toMatchObject({ status: S.OBJECT_PATH_NOT_FOUND, win32: 3 });
      expect(s.nameNotFound).toMatchObject({ status: S.OBJECT_NAME_NOT_FOUND, win32: 2 });
      expect(s.createExisting).toMatchObject({ status: S.OBJECT_NAME_COLLISION, win32: 80 });
      expect(s.afterClose).toMatchObject({ status: S.SUCCESS, information: '1' }); // FILE_OPENED
      expect(s.writeAgainstReadShare).toMatchObject({ status: S.SHARING_VIOLATION, win32: 32 });
      // Statuses of calls without a status block come from the thread's last NTSTATUS.
      expect(s.denied.statusSource).toBe('last-status');
    });

    it('refuses conflicting byte-range locks and grants compatible ones', () => {
      const l = r.locks;
      expect(l.write).toMatchObject({ status: 0, information: '4096' });
      expect(l.lockA.status).toBe(S.SUCCESS);
      // Windows: STATUS_LOCK_NOT_GRANTED for a fail-immediately conflict. Wine answers
      // STATUS_FILE_LOCK_CONFLICT (same Win32 error, 33).
      expect(l.conflict).toMatchObject({ status: S.FILE_LOCK_CONFLICT, win32: 33 });
      expect(l.elsewhere.status).toBe(S.SUCCESS);
      expect(l.sharedA.status).toBe(S.SUCCESS);
      expect(l.sharedB.status).toBe(S.SUCCESS);
      expect(l.exclusiveOverShared).toMatchObject({ status: S.FILE_LOCK_CONFLICT, win32: 33 });
      expect(l.unlock.status).toBe(S.SUCCESS);
      // Windows: STATUS_RANGE_NOT_LOCKED for an unlock that matches no lock; Wine: FILE_LOCK_CONFLICT.
      expect(l.unlockWrongRange.status).toBe(S.FILE_LOCK_CONFLICT);
      expect(l.unlockAgain.status).toBe(S.FILE_LOCK_CONFLICT);
      // Windows refuses reads and writes through another handle in an exclusively locked range
      // (STATUS_FILE_LOCK_CONFLICT); Wine does not enforce byte-range locks on I/O.
      expect(l.readThroughOther).toMatchObject({ status: S.SUCCESS, information: '10' });
      expect(l.readThroughHolder).toMatchObject({ status: S.SUCCESS, information: '10' });
    });

    it('grants a waiting lock once the holder unlocks, and once the holder closes', () => {
      const w = r.waitingLock;
      expect(w.pendingBeforeUnlock).toBe(true);
      expect(w.completedBeforeUnlock).toBeNull();
      expect(w.unlock.status).toBe(S.SUCCESS);
      expect(w.grantedAfterUnlock).toMatchObject({ status: S.SUCCESS });
      expect(w.pendingBeforeClose).toBe(true);
      expect(w.holderClose.status).toBe(S.SUCCESS);
      expect(w.grantedAfterClose).toMatchObject({ status: S.SUCCESS });
    });

    it('says plainly that Wine cannot wait for a lock on an overlapped handle', () => {
      // Wine's NtLockFile returns STATUS_PENDING and never completes it; the addon completes the
      // request at once with STATUS_NOT_IMPLEMENTED, marked as the emulator's limit.
      expect(r.overlappedWaitingLock).toMatchObject({
        status: S.NOT_IMPLEMENTED,
        statusSource: 'emulator',
        pended: true,
      });
    });

    it('reads and writes overlapped, 32 at a time, through the IOCP', () => {
      const rw = r.readWrite;
      expect(rw.write).toMatchObject({
        status: 0,
        information: '65536',
        statusSource: 'io-status-block',
      });
      expect(rw.read).toMatchObject({ status: 0, information: '65536', dataLength: 65536 });
      expect(rw.roundTrip).toBe(true);
      expect(rw.shortRead).toMatchObject({ status: 0, information: '100', dataLength: 100 });
      expect(rw.eof).toMatchObject({ status: S.END_OF_FILE, win32: 38, dataLength: 0 });
      expect(rw.concurrentWrites).toEqual(new Array(32).fill(0));
      expect(rw.concurrentWriteBytes).toEqual(new Array(32).fill(512));
      expect(rw.concurrentReadsMatch).toEqual(new Array(32).fill(true));
      expect(r.flush.status).toBe(S.SUCCESS);
    });

    it('cancels a pending overlapped read (CancelIoEx) and a blocked synchronous one', () => {
      expect(r.cancel).toMatchObject({
        pendingBeforeCancel: true,
        cancelReturned: true,
        cancelAfterCompletion: false,
      });
      expect(r.cancel.result).toMatchObject({ status: S.CANCELLED, win32: 995, pended: true });
      expect(r.cancelSynchronous.cancelReturned).toBe(true);
      expect(r.cancelSynchronous.result).toMatchObject({ status: S.CANCELLED, win32: 995 });
    });

    it('closes a handle with reads in flight: each read completes, the id is closed', () => {
      const c = r.closeInFlight;
      expect(c.close.status).toBe(S.SUCCESS);
      expect(c.reads).toHaveLength(3);
      // Wine completes a named-pipe read whose handle was closed with STATUS_PIPE_BROKEN.
      for (const read of c.reads) expect(read).toMatchObject({ status: S.PIPE_BROKEN, win32: 109 });
      expect(c.useAfterClose).toMatchObject({ name: 'HandleClosedError', code: 'E_HANDLE_CLOSED' });
      expect(r.closeSynchronous.close.status).toBe(S.SUCCESS);
      expect(r.closeSynchronous.read).not.toBeNull();
    });

    it('keeps 200 handles open at once, each with its own id, and leaks none', () => {
      expect(r.manyHandles).toEqual({
        count: 200,
        opened: 200,
        distinctIds: 200,
        writesOk: 200,
        liveHandlesWhileOpen: 200,
        closed: 200,
        liveHandlesAfter: 0,
      });
    });

    it('sets end of file, renames and deletes through SetFileInformationByHandle', () => {
      const s = r.setInformation;
      expect(s.endOfFile.status).toBe(S.SUCCESS);
      expect(s.readPastEnd.status).toBe(S.END_OF_FILE);
      expect(s.readAcrossEnd).toMatchObject({ status: 0, information: '10' });
      // Windows sets the allocation size; Wine answers ERROR_CALL_NOT_IMPLEMENTED (no NTSTATUS).
      expect(s.allocation).toMatchObject({
        status: S.NOT_IMPLEMENTED,
        win32: 120,
        statusSource: 'win32',
      });
      expect(s.rename.status).toBe(S.SUCCESS);
      expect(s.openOldName.status).toBe(S.OBJECT_NAME_NOT_FOUND);
      expect(s.openNewName.status).toBe(S.SUCCESS);
      expect(s.disposition.status).toBe(S.SUCCESS);
      expect(s.openAfterDelete.status).toBe(S.OBJECT_NAME_NOT_FOUND);
    });

    it("reports Wine's answer to every oplock FSCTL: not supported", () => {
      for (const name of [
        'LEVEL1',
        'LEVEL2',
        'BATCH',
        'FILTER',
        'R',
        'RW',
        'RH',
        'RWH',
        'acknowledge',
        'ackWin7',
      ]) {
        expect(r.oplocks[name], name).toMatchObject({ status: S.NOT_SUPPORTED, win32: 50 });
      }
    });

    it('turns misuse into typed errors', () => {
      const e = r.errors;
      expect(e.closedHandle).toMatchObject({ name: 'HandleClosedError', code: 'E_HANDLE_CLOSED' });
      expect(e.closeTwice).toMatchObject({ code: 'E_HANDLE_CLOSED' });
      expect(e.unknownHandle).toMatchObject({
        name: 'UnknownHandleError',
        code: 'E_UNKNOWN_HANDLE',
      });
      for (const k of [
        'otherProcess',
        'lockKey',
        'supersede',
        'completeIfOplocked',
        'unlockAll',
        'oplockKey',
      ]) {
        expect(e[k], k).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
        expect(e[k].hint, k).toBeTruthy();
      }
    });

    it('disposes with a read in flight: it settles cancelled and nothing native is left', () => {
      const d = r.dispose;
      expect(d.inFlightResult).toMatchObject({ status: S.CANCELLED });
      expect(d.useAfterDispose).toMatchObject({ name: 'DisposedError', code: 'E_DISPOSED' });
      expect(d.diagnostics).toEqual({
        operations: 0,
        fileHandles: 0,
        pumpThreads: 0,
        runnerThreads: 0,
        sessions: 0,
        handles: 0,
        ports: 0,
      });
    });

    it('loads in a host executable not named node.exe (delay-loaded NODE.EXE)', () => {
      const h: Json = loadResult('host');
      expect(h.exe).toBe('fltbridge-host.exe');
      expect(h.open.status).toBe(S.SUCCESS);
      expect(h.write).toMatchObject({ status: 0, information: '12' });
      expect(h.text).toBe('delay-loaded');
    });

    it('lets a script that leaves a handle open exit by itself', () => {
      const i: Json = loadResult('idle-exit');
      expect(i.open.status).toBe(S.SUCCESS);
      expect(i.write).toMatchObject({ status: 0, information: '16' });
      expect(i.exitCode).toBe(0);
      expect(i.processMs).toBeLessThan(20_000);
    });
  },
);
