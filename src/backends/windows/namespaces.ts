/**
 * Namespace paths for CONFIGURE. The driver matches the names the filter manager gives files
 * (FltGetFileNameInformation, normalized): NT paths such as \Device\HarddiskVolume3\fltb. Users
 * type DOS paths (C:\fltb). A namespace given as a DOS path is turned into its NT path by the
 * addon's finalPath (CreateFileW on the existing file or directory, then
 * GetFinalPathNameByHandleW with VOLUME_NAME_NT: native/src/final_path.h says why not
 * QueryDosDeviceW); one given as an NT path (\Device\...) is sent as it is, so a namespace can be
 * configured before its directory exists.
 *
 * Forms:
 *   - `\Device\...`                          NT path, sent unchanged (trailing backslashes dropped)
 *   - `C:\dir`, `dir`, `\dir`, `C:/dir`       DOS path, made absolute against the working directory
 *   - `\\?\C:\dir`, `\\.\C:\dir`, `\??\C:\dir`, `\GLOBAL??\C:\dir`   DOS path behind a prefix
 *   - `\\server\share\dir`, `\\?\UNC\...`     UNC: refused (the minifilter attaches to local
 *                                            volumes only)
 */
import { win32 } from 'node:path';
import { InvalidArgumentError } from '../../bridge/errors.js';
import { formatNtStatus } from '../../bridge/ntstatus.js';
import {
  FLTB_MAX_NAME_BYTES,
  FLTB_MAX_NAMESPACES,
  type NamespaceKind,
  type NamespaceSpec,
} from '../../protocol/index.js';
import type { IoRecord, NativeAddon } from './addon.js';
import type { IoSession } from './io.js';

export type { NamespaceKind, NamespaceSpec };

/** A namespace as a user gives it: a DOS path (C:\fltb, relative paths too) or an NT path. */
export interface NamespaceInput {
  readonly kind: NamespaceKind;
  readonly path: string;
}

/** A namespace ready for CONFIGURE: `path` is the NT path, `given` what the user wrote. */
export interface ResolvedNamespace extends NamespaceSpec {
  readonly given: string;
}

export type NamespacePath =
  /** Sent as it is. */
  | { readonly form: 'nt'; readonly path: string }
  /** Resolved through the file system: `path` is what CreateFileW opens. */
  | { readonly form: 'dos'; readonly path: string }
  | { readonly form: 'unc'; readonly path: string };

const NT_DEVICE = /^\\device\\[^\\]/i;
const OBJECT_PREFIX = /^\\(\?\?|global\?\?|dosdevices)\\/i;
const WIN32_PREFIX = /^[\\/]{2}[?.][\\/]/;
const UNC_AFTER_PREFIX = /^unc[\\/]/i;

/** Which form a namespace path has, and the path to send or to open. */
export function classifyNamespacePath(path: string, cwd: string): NamespacePath {
  if (NT_DEVICE.test(path)) return { form: 'nt', path: trimTrailing(path) };
  const object = OBJECT_PREFIX.exec(path);
  if (object) {
    const rest = path.slice(object[0].length);
    if (UNC_AFTER_PREFIX.test(rest)) return { form: 'unc', path };
    return classifyNamespacePath(rest, cwd);
  }
  if (WIN32_PREFIX.test(path)) {
    const rest = path.slice(4);
    if (UNC_AFTER_PREFIX.test(rest)) return { form: 'unc', path };
    return { form: 'dos', path: `\\\\${path[2]}\\${rest.replace(/\//g, '\\')}` };
  }
  if (/^[\\/]{2}/.test(path)) return { form: 'unc', path };
  const absolute = win32.resolve(cwd, path);
  // A relative path under a working directory on a share.
  if (absolute.startsWith('\\\\')) return { form: 'unc', path: absolute };
  return { form: 'dos', path: absolute };
}

function trimTrailing(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '\\') end -= 1;
  return path.slice(0, end);
}

/** Statuses (and Win32 errors) that mean "no such file or directory". */
const NOT_FOUND_STATUS = new Set([0xc0000034, 0xc000003a, 0xc000000f]);
const NOT_FOUND_WIN32 = new Set([2, 3]);
const ACCESS_DENIED = 0xc0000022;
/** NT names of redirected (network) file systems: the minifilter never attaches there. */
const NETWORK_DEVICE = /^\\device\\(mup|lanmanredirector|webdavredirector|rdpdr)(\\|$)/i;

const NT_HINT = 'give its NT path instead (\\Device\\HarddiskVolumeN\\...)';
const LOCAL_HINT = 'use a directory on a local volume, such as C:\\fltb';

/** The one line for a UNC namespace (refused: local volumes only). */
export function uncError(given: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `namespace ${given} is a UNC path: the minifilter attaches to local NTFS, ReFS, FAT and exFAT volumes only`,
    LOCAL_HINT,
  );
}

/** The error for a failed finalPath completion, in one line with what to do. */
export function finalPathError(
  given: string,
  opened: string,
  record: IoRecord,
): InvalidArgumentError {
  const status = record.status >>> 0;
  if (NOT_FOUND_STATUS.has(status) || NOT_FOUND_WIN32.has(record.win32)) {
    return new InvalidArgumentError(
      `namespace ${given} does not exist (${formatNtStatus(status)})`,
      `create it first (mkdir ${opened}), or ${NT_HINT} to configure it before it exists`,
    );
  }
  return new InvalidArgumentError(
    `cannot find the NT path of namespace ${given}: opening it failed with ${formatNtStatus(status)}`,
    status === ACCESS_DENIED ? `run from an elevated prompt, or ${NT_HINT}` : NT_HINT,
  );
}

/** UTF-16LE bytes (finalPath's data) to a string. */
export function utf16(data: Uint8Array | undefined): string {
  return data ? new TextDecoder('utf-16le').decode(data) : '';
}

/** The NT path of an existing file or directory, through the addon (on the session's runner). */
export async function ntPathOf(
  addon: NativeAddon,
  session: IoSession,
  given: string,
  opened: string,
): Promise<string> {
  const { done } = session.submit((request) => addon.finalPath(session.id, request, opened));
  const record = await done;
  if (record.status >>> 0 !== 0) throw finalPathError(given, opened, record);
  const nt = utf16(record.data);
  if (NETWORK_DEVICE.test(nt)) {
    throw new InvalidArgumentError(
      `namespace ${given} is on a network volume (${nt}): the minifilter attaches to local volumes only`,
      LOCAL_HINT,
    );
  }
  if (!nt.startsWith('\\')) {
    throw new InvalidArgumentError(
      `the NT path of namespace ${given} came back as '${nt}', not an NT path`,
      NT_HINT,
    );
  }
  return trimTrailing(nt);
}

const key = (nt: string) => nt.toUpperCase();

/** Finds the NT path of an existing DOS path (`given` is what the user wrote, for messages). */
export type NtPathLookup = (given: string, opened: string) => Promise<string>;

/**
 * DOS paths to NT paths (through `ntPath`: ntPathOf over the addon), NT paths as they are; checks what the driver
 * would refuse (too many, too long, one path both managed and observed) with a message naming
 * the paths. The same path twice with the same kind is kept once, as the driver does.
 */
export async function resolveNamespaces(
  specs: readonly NamespaceInput[],
  ntPath: NtPathLookup,
  cwd: string = process.cwd(),
): Promise<ResolvedNamespace[]> {
  if (!Array.isArray(specs)) throw new InvalidArgumentError('namespaces must be an array');
  const out: ResolvedNamespace[] = [];
  const seen = new Map<string, ResolvedNamespace>();
  for (const spec of specs) {
    const given = spec?.path;
    if (spec?.kind !== 'managed' && spec?.kind !== 'observe') {
      throw new InvalidArgumentError(
        `namespace kind must be 'managed' or 'observe', got ${String(spec?.kind)}`,
      );
    }
    if (typeof given !== 'string' || given.length === 0 || given.includes('\0')) {
      throw new InvalidArgumentError(
        'a namespace needs a path (a directory such as C:\\fltb)',
        'give --managed DIR or --observe DIR',
      );
    }
    const form = classifyNamespacePath(given, cwd);
    if (form.form === 'unc') throw uncError(given);
    const path = form.form === 'nt' ? form.path : await ntPath(given, form.path);
    if (path.length * 2 > FLTB_MAX_NAME_BYTES) {
      throw new InvalidArgumentError(
        `namespace ${given} is too long: its NT path has ${path.length} characters, the driver takes at most ${FLTB_MAX_NAME_BYTES / 2}`,
        'use a shorter path',
      );
    }
    const earlier = seen.get(key(path));
    if (earlier) {
      if (earlier.kind !== spec.kind) {
        throw new InvalidArgumentError(
          `${earlier.given} and ${given} are the same path (${path}), once managed and once observed`,
          'a namespace is either managed or observed: drop one of them',
        );
      }
      continue;
    }
    const resolved: ResolvedNamespace = { kind: spec.kind, path, given };
    seen.set(key(path), resolved);
    out.push(resolved);
  }
  if (out.length > FLTB_MAX_NAMESPACES) {
    throw new InvalidArgumentError(
      `${out.length} namespaces; the driver takes at most ${FLTB_MAX_NAMESPACES}`,
      'configure a common parent directory instead of its children',
    );
  }
  return out;
}

/** "managed C:\fltb (\Device\HarddiskVolume3\fltb)", or just the NT path when given as one. */
export function describeNamespace(ns: ResolvedNamespace): string {
  return ns.given === ns.path ? `${ns.kind} ${ns.path}` : `${ns.kind} ${ns.given} (${ns.path})`;
}
