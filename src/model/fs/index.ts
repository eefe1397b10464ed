/**
 * The file-system layer of the model: what sits around the oplock and FILE_LOCK packages.
 *
 *   path.ts         names on the model volume (Win32 / POSIX / NT forms, case-insensitive keys)
 *   shareaccess.ts  IoCheckShareAccess / IoSetShareAccess / IoRemoveShareAccess
 *   irp.ts          file objects and I/O request packets
 *   iomanager.ts    the I/O manager: parameter checks, generic mapping, handle access, sync
 *                   handles, cleanup versus close
 *   ntfs.ts         the file system: namespace, sizes, share access, delete pending, and its own
 *                   oplocks and byte-range locks
 *   data.ts         sparse stream contents
 */
export { StreamData } from './data.js';
export {
  type CreateArguments,
  FILE_VALID_OPTION_FLAGS,
  type IoCompletion,
  IoManager,
  IoOperation,
  validateCreate,
} from './iomanager.js';
export * from './irp.js';
export {
  CLUSTER_SIZE,
  FileSystem,
  FsNode,
  MAX_FILE_SIZE,
  MAX_LONGLONG,
  type NodeKind,
  type SeedOptions,
} from './ntfs.js';
export * from './path.js';
export * from './shareaccess.js';
