/**
 * The scenario `fltbridge demo` narrates. Two clients (processes 1 and 2) share report.docx:
 *
 *  1. A holds an RWH oplock; B's open conflicts with A's share mode, so Windows breaks A's
 *     handle caching (RWH -> RW) and holds B's open until A acknowledges ([MS-FSA] 2.1.5.1.2:
 *     a sharing violation against a handle-caching holder breaks H and waits; the open then
 *     re-checks share access).
 *  2. A's exclusive byte-range lock refuses B's write (locks are mandatory on Windows:
 *     STATUS_FILE_LOCK_CONFLICT), and B's waiting lock is granted when A unlocks (LockFileEx
 *     without LOCKFILE_FAIL_IMMEDIATELY).
 *
 * The expectations are checked: if the model ever disagreed, the demo would say so.
 */

/**
 * The model configuration of the demo: the default one, where the whole model volume is managed,
 * so the filter owns the oplock and the byte-range locks and every row carries its causality
 * (which operation broke which oplock, who released whom). The filter follows NTFS's order at
 * create ([MS-FSA] 2.1.5.1.2): share check first, FltOplockBreakH for handle caching only
 * (RWH -> RW), the open waits for the acknowledgement, the share check is made again, and an
 * open that still conflicts fails with STATUS_SHARING_VIOLATION without any other oplock check;
 * the same trace as NTFS's own under an observe root.
 */
export const DEMO_MODEL_OPTIONS = {} as const;

export const DEMO_SCENARIO = `
name: demo
description: Two clients share report.docx; an oplock break waits for its acknowledgement, and byte-range locks refuse and queue.
setup:
  files:
    - path: report.docx
      size: 4096
steps:
  - open: a
    path: report.docx
    access: read,write
    share: read
    note: Client A (process 1) opens report.docx to edit it; others may read it but not write.
    expect: { status: STATUS_SUCCESS }

  - oplock: a
    id: rwh
    level: RWH
    note: A asks for an RWH oplock (cache reads, writes and the handle). Granted, the request stays in flight until a break.
    expect: { pending: true }

  - open: b1
    path: report.docx
    access: read,write
    share: read,write
    process: 2
    note: Client B (process 2) opens the file for writing. A's share mode refuses that, so Windows breaks A's handle caching (RWH → RW) and holds B's open until A acknowledges.
    expect:
      pending: true
      breaks: [{ handle: a, request: rwh, from: RWH, to: RW, ackRequired: true }]

  - ack: a
    id: ackRW
    level: RW
    note: A acknowledges to RW but keeps its handle, so B's open resumes and still meets A's share mode.
    expect:
      pending: true
      completes: [{ step: 3, status: STATUS_SHARING_VIOLATION }]

  - close: a
    note: A closes its handle; the RW oplock ends with it.
    expect:
      completes: [{ step: ackRW, status: STATUS_OPLOCK_HANDLE_CLOSED }]

  - open: b
    path: report.docx
    access: read,write
    share: read,write
    process: 2
    note: B tries again and gets the file.
    expect: { status: STATUS_SUCCESS }

  - open: a2
    path: report.docx
    access: read,write
    share: read,write
    note: A opens it again, this time sharing read and write.
    expect: { status: STATUS_SUCCESS }

  - lock: a2
    offset: 0
    length: 100
    note: A locks bytes 0-99 exclusively.
    expect: { status: STATUS_SUCCESS }

  - write: b
    offset: 10
    length: 20
    note: B writes bytes 10-29. Byte-range locks are mandatory on Windows, so A's lock refuses it.
    expect: { status: STATUS_FILE_LOCK_CONFLICT }

  - lock: b
    id: waitB
    offset: 0
    length: 100
    wait: true
    note: B asks for the same range and is willing to wait.
    expect: { pending: true }

  - unlock: a2
    offset: 0
    length: 100
    note: A unlocks; B's waiting lock is granted at once.
    expect:
      status: STATUS_SUCCESS
      completes: [{ step: waitB, status: STATUS_SUCCESS }]
`;
