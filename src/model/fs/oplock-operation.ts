/**
 * FLT_CALLBACK_DATA -> the oplock package's operation (src/model/oplock/types.ts).
 *
 * Both owners of oplock packages in the model build their calls with this: the file-system twin
 * (ntfs.ts, for streams the filter does not manage) and the filter twin (filter/oplock.ts, for
 * managed streams; driver/src/oplock.c hands FltCheckOplockEx the callback data itself). They
 * differ only in identities — each layer numbers its own operations and file objects — so the
 * caller supplies those. FSCTLs are built by their callers (fsctl.ts, ntfs.ts), because the
 * request's completion belongs to the layer that holds it.
 */

import type { OplockFileObject, OplockOperation } from '../oplock/types.js';
import { IRP_MN_LOCK, IRP_MN_UNLOCK_ALL, IRP_MN_UNLOCK_SINGLE, type Irp } from './irp.js';

export interface OplockIdentity {
  readonly operationId: bigint;
  readonly fileObject: OplockFileObject;
}

/** The operation an IRP is to the oplock package, or undefined for one it never checks. */
export function oplockOperationFor(
  irp: Irp,
  identity: OplockIdentity,
): OplockOperation | undefined {
  const base = {
    operationId: identity.operationId,
    processId: irp.process,
    fileObject: identity.fileObject,
  };
  const p = irp.params;
  switch (p.kind) {
    case 'create': {
      const fo = irp.fileObject;
      return {
        ...base,
        major: 'CREATE',
        desiredAccess: fo.desiredAccess,
        shareAccess: fo.shareAccess,
        disposition: fo.disposition,
        createOptions: irp.createOptions,
      };
    }
    case 'read':
      return { ...base, major: 'READ', offset: p.offset, length: p.length };
    case 'write':
      return { ...base, major: 'WRITE', offset: p.offset, length: p.data.length };
    case 'set-information':
      return {
        ...base,
        major: 'SET_INFORMATION',
        fileInformationClass: p.informationClass,
        ...(p.request.class === 'disposition' ? { deleteFile: p.request.deleteFile } : {}),
      };
    case 'flush':
      return { ...base, major: 'FLUSH_BUFFERS' };
    case 'lock':
      return {
        ...base,
        major: 'LOCK_CONTROL',
        minor:
          irp.minor === IRP_MN_LOCK
            ? 'LOCK'
            : irp.minor === IRP_MN_UNLOCK_SINGLE
              ? 'UNLOCK_SINGLE'
              : irp.minor === IRP_MN_UNLOCK_ALL
                ? 'UNLOCK_ALL'
                : 'UNLOCK_ALL_BY_KEY',
        offset: p.offset,
        length: p.length,
        key: p.key,
        exclusive: p.exclusive,
        failImmediately: p.failImmediately,
      };
    case 'cleanup':
      return { ...base, major: 'CLEANUP' };
    default:
      return undefined;
  }
}
