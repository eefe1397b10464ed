/**
 * The in-process model of the Windows semantics fltbridge twins (docs ARCHITECTURE "Twins"):
 *
 *  - `oplock`, `filelock`: the kernel packages (FsRtl oplock and FILE_LOCK), used both by the file
 *    system below the filter and by the filter itself for the streams it manages;
 *  - `fs`: the I/O manager and an NTFS-like file system (opens, share access, dispositions,
 *    read/write, set-information, cleanup and close);
 *  - `filter`: the twin of the minifilter in driver/src (managed and observed namespaces, the
 *    event records, the communication port).
 *
 * Most users drive the model through `createModelBridge` (src/backends/model.ts).
 */
export * as filelock from './filelock/index.js';
export * as filter from './filter/index.js';
export * as fs from './fs/index.js';
export * as oplock from './oplock/index.js';
