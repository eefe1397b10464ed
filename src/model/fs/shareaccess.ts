/**
 * Share access as the I/O manager keeps it: the twin of IoCheckShareAccess, IoSetShareAccess,
 * IoRemoveShareAccess (wdm.h; "IoCheckShareAccess" and "IoSetShareAccess" DDI pages) that file
 * systems call with the SHARE_ACCESS of each stream.
 *
 * Only opens that ask for read (FILE_READ_DATA, FILE_EXECUTE), write (FILE_WRITE_DATA,
 * FILE_APPEND_DATA) or DELETE take part: an open with, say, only FILE_READ_ATTRIBUTES neither
 * counts nor conflicts. NTFS-observed: Wine's kernel32/tests/file.c test_file_sharing
 * (is_sharing_compatible) runs every pair of 24 access masks x 8 share modes on Windows and
 * expects exactly this rule; [MS-FSA] 2.1.5.1.2.2 states the same per-open comparison.
 */

import { AccessRight, ShareMode } from '../../bridge/flags.js';

export interface ShareAccess {
  openCount: number;
  readers: number;
  writers: number;
  deleters: number;
  sharedRead: number;
  sharedWrite: number;
  sharedDelete: number;
}

/** What IoCheckShareAccess records in the FILE_OBJECT (ReadAccess, SharedRead, ...). */
export interface ShareAccessEntry {
  readAccess: boolean;
  writeAccess: boolean;
  deleteAccess: boolean;
  sharedRead: boolean;
  sharedWrite: boolean;
  sharedDelete: boolean;
}

export function newShareAccess(): ShareAccess {
  return {
    openCount: 0,
    readers: 0,
    writers: 0,
    deleters: 0,
    sharedRead: 0,
    sharedWrite: 0,
    sharedDelete: 0,
  };
}

/** The FILE_OBJECT fields IoCheckShareAccess derives from an access mask and share mode. */
export function shareEntry(desiredAccess: number, shareMode: number): ShareAccessEntry {
  return {
    readAccess: (desiredAccess & (AccessRight.FILE_READ_DATA | AccessRight.FILE_EXECUTE)) !== 0,
    writeAccess:
      (desiredAccess & (AccessRight.FILE_WRITE_DATA | AccessRight.FILE_APPEND_DATA)) !== 0,
    deleteAccess: (desiredAccess & AccessRight.DELETE) !== 0,
    sharedRead: (shareMode & ShareMode.FILE_SHARE_READ) !== 0,
    sharedWrite: (shareMode & ShareMode.FILE_SHARE_WRITE) !== 0,
    sharedDelete: (shareMode & ShareMode.FILE_SHARE_DELETE) !== 0,
  };
}

function participates(entry: ShareAccessEntry): boolean {
  return entry.readAccess || entry.writeAccess || entry.deleteAccess;
}

/**
 * IoCheckShareAccess without the update: true when the open is compatible with every open
 * already counted in `share`.
 */
export function isShareCompatible(entry: ShareAccessEntry, share: ShareAccess): boolean {
  if (!participates(entry)) return true;
  const n = share.openCount;
  if (entry.readAccess && share.sharedRead < n) return false;
  if (entry.writeAccess && share.sharedWrite < n) return false;
  if (entry.deleteAccess && share.sharedDelete < n) return false;
  if (share.readers !== 0 && !entry.sharedRead) return false;
  if (share.writers !== 0 && !entry.sharedWrite) return false;
  if (share.deleters !== 0 && !entry.sharedDelete) return false;
  return true;
}

/** IoSetShareAccess / the update half of IoCheckShareAccess. */
export function addShareAccess(entry: ShareAccessEntry, share: ShareAccess): void {
  if (!participates(entry)) return;
  share.openCount += 1;
  if (entry.readAccess) share.readers += 1;
  if (entry.writeAccess) share.writers += 1;
  if (entry.deleteAccess) share.deleters += 1;
  if (entry.sharedRead) share.sharedRead += 1;
  if (entry.sharedWrite) share.sharedWrite += 1;
  if (entry.sharedDelete) share.sharedDelete += 1;
}

/** IoRemoveShareAccess, called by the file system at cleanup. */
export function removeShareAccess(entry: ShareAccessEntry, share: ShareAccess): void {
  if (!participates(entry)) return;
  share.openCount -= 1;
  if (entry.readAccess) share.readers -= 1;
  if (entry.writeAccess) share.writers -= 1;
  if (entry.deleteAccess) share.deleters -= 1;
  if (entry.sharedRead) share.sharedRead -= 1;
  if (entry.sharedWrite) share.sharedWrite -= 1;
  if (entry.sharedDelete) share.sharedDelete -= 1;
}
