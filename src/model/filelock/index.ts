/**
 * The FILE_LOCK twin (byte-range lock package). Import it as a namespace so the DDI verbs read
 * as they do in the driver:
 *
 *   import * as fileLock from '../filelock/index.js';
 *   const lock = fileLock.allocate(onComplete, onUnlock);    // FltAllocateFileLock
 *   fileLock.process(lock, data, ctx);                        // FltProcessFileLock
 *   fileLock.checkForRead(lock, readData);                    // FltCheckLockForReadAccess
 *   fileLock.fastUnlockAll(lock, fo, pid, ctx, cleanupOpId);  // FsRtlFastUnlockAll
 */

export {
  allocate,
  allocateWithIndex,
  areThereCurrentFileLocks,
  cancel,
  checkForRead,
  checkForWrite,
  checkLockForOplockRequest,
  enumerateLocks,
  type FileLock,
  fastUnlockAll,
  free,
  type IndexFactory,
  type IoInit,
  initialize,
  isWaiting,
  type LockControlInit,
  lockControlData,
  process,
  readData,
  uninitialize,
  waitingRequests,
  writeData,
} from './file-lock.js';
export { AvlIntervalTree } from './interval-avl.js';
export {
  IntervalBTree,
  IntervalNode,
  type NodePredicate,
  type RangeIndex,
} from './interval-index.js';
export { NaiveIndex } from './naive-index.js';
export * from './types.js';
