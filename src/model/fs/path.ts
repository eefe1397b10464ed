/**
 * Paths on the model volume.
 *
 * The model has one NTFS-like volume, `C:`. Users write paths the Windows way (`C:\dir\file.txt`,
 * `\dir\file`), the POSIX way (`/dir/file`), or as an NT path (`\??\C:\dir`,
 * `\Device\HarddiskVolume1\dir`); all of them name the same volume. Parsing follows what the Win32
 * layer (RtlDosPathNameToNtPathName_U) does before NTFS sees a name, and what NTFS then checks:
 *
 *   - separators `\` and `/` are equivalent; runs of them collapse; `.` and `..` are resolved
 *     ("Naming Files, Paths, and Namespaces", Win32 docs: path normalisation);
 *   - trailing dots and spaces of a component are removed (same page: "Do not end a file or
 *     directory name with a space or a period ... the Windows shell and user interface does not
 *     support it"; RtlDosPathNameToNtPathName_U strips them);
 *   - a component holding `" * / : < > ? \ |` or a control character is invalid
 *     ([MS-FSCC] 2.1.5.2 "Filenames"), as is a component longer than 255 UTF-16 units
 *     ([MS-FSCC] 2.1.5 and NTFS's limit): STATUS_OBJECT_NAME_INVALID ([MS-FSA] 2.1.5.1 phase 1);
 *   - names compare case-insensitively, character by character, as NTFS's $UpCase table does
 *     (a character whose uppercase form is longer than one unit, such as 'ß', stays as it is).
 *
 * Named streams (`file:stream`) are not modelled: the colon is refused like any invalid character.
 */

/** Longest component NTFS accepts, in UTF-16 code units. */
export const MAX_COMPONENT_LENGTH = 255;
/** Longest path the model accepts (UNICODE_STRING limit, in UTF-16 code units). */
export const MAX_PATH_LENGTH = 32767;

/** The only volume of the model, and how event names spell it. */
export const MODEL_DRIVE = 'C:';

export type PathParseError = 'name-invalid' | 'path-not-found' | 'syntax-bad';

export interface ParsedPath {
  /** Components as written (case preserved), without the volume. Empty for the root. */
  readonly components: readonly string[];
  /** Upcased components: the case-insensitive lookup keys. */
  readonly keys: readonly string[];
  /** The path ended with a separator (it then names a directory, [MS-FSA] 2.1.5.1 phase 7). */
  readonly trailingSeparator: boolean;
  /** `C:\dir\file.txt`: the canonical display form, case as written. */
  readonly display: string;
  /** `\DIR\FILE.TXT`: the case-insensitive identity of the path on the volume. */
  readonly key: string;
}

export type PathResult = { ok: true; path: ParsedPath } | { ok: false; error: PathParseError };

const INVALID_CHAR = /["*/:<>?\\|]/;

/** A character NTFS refuses in a name: the reserved set, or a control character (< 0x20). */
function hasInvalidChar(name: string): boolean {
  if (INVALID_CHAR.test(name)) return true;
  for (let i = 0; i < name.length; i += 1) if (name.charCodeAt(i) < 0x20) return true;
  return false;
}

/** Uppercase one UTF-16 unit the way a 1:1 upcase table does. */
export function upcaseChar(ch: string): string {
  const up = ch.toUpperCase();
  return up.length === 1 ? up : ch;
}

/** Case-insensitive key of a name (NTFS $UpCase semantics: unit by unit). */
export function upcase(name: string): string {
  let out = '';
  for (const ch of name) {
    // Iterating a string yields code points; surrogate pairs have no 1:1 upcase here.
    out += ch.length === 1 ? upcaseChar(ch) : ch;
  }
  return out;
}

/** Strip the volume prefix and return the rest (starting after the volume), or an error. */
function stripVolume(text: string): { rest: string } | { error: PathParseError } {
  let t = text.replace(/\//g, '\\');
  // NT object-manager prefixes: \??\C:\..., \DosDevices\C:\..., \GLOBAL??\C:\...
  const dos = /^\\(?:\?\?|DosDevices|GLOBAL\?\?)\\([A-Za-z]:)(.*)$/i.exec(t);
  if (dos) t = `${dos[1]}${dos[2]}`;
  // Win32 long-path prefix \\?\C:\...
  const longPrefix = /^\\\\\?\\([A-Za-z]:)(.*)$/.exec(t);
  if (longPrefix) t = `${longPrefix[1]}${longPrefix[2]}`;
  // A device path: \Device\HarddiskVolumeN\... names the model's volume.
  const device = /^\\Device\\HarddiskVolume\d+(\\.*)?$/i.exec(t);
  if (device) return { rest: device[1] ?? '\\' };
  const drive = /^([A-Za-z]):(.*)$/.exec(t);
  if (drive) {
    if (`${drive[1]}:`.toUpperCase() !== MODEL_DRIVE) return { error: 'path-not-found' };
    const rest = drive[2] ?? '';
    // "C:file" is drive-relative; the model's current directory on C: is the root.
    return { rest: rest.startsWith('\\') ? rest : `\\${rest}` };
  }
  if (t.startsWith('\\\\')) return { error: 'syntax-bad' }; // UNC paths: no network in the model
  return { rest: t.startsWith('\\') ? t : `\\${t}` };
}

/**
 * Parse a user path into components on the model volume.
 * Errors: 'name-invalid' (STATUS_OBJECT_NAME_INVALID), 'path-not-found' (another drive:
 * STATUS_OBJECT_PATH_NOT_FOUND), 'syntax-bad' (STATUS_OBJECT_PATH_SYNTAX_BAD).
 */
export function parsePath(text: string): PathResult {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, error: 'name-invalid' };
  if (text.length > MAX_PATH_LENGTH) return { ok: false, error: 'name-invalid' };
  if (text.includes('\u0000')) return { ok: false, error: 'name-invalid' };
  const stripped = stripVolume(text);
  if ('error' in stripped) return { ok: false, error: stripped.error };
  const rest = stripped.rest;
  const trailingSeparator = rest.length > 1 && rest.endsWith('\\');
  const components: string[] = [];
  for (const raw of rest.split('\\')) {
    if (raw.length === 0 || raw === '.') continue;
    if (raw === '..') {
      components.pop();
      continue;
    }
    const name = raw.replace(/[. ]+$/, '');
    if (name.length === 0) continue; // "..." or "  " collapse to nothing, as Win32 does
    if (name.length > MAX_COMPONENT_LENGTH || hasInvalidChar(name)) {
      return { ok: false, error: 'name-invalid' };
    }
    components.push(name);
  }
  const keys = components.map(upcase);
  return {
    ok: true,
    path: {
      components,
      keys,
      trailingSeparator,
      display: `${MODEL_DRIVE}\\${components.join('\\')}`,
      key: `\\${keys.join('\\')}`,
    },
  };
}

/**
 * Is `key` equal to `prefixKey` or inside it (continuing after a separator)? Both are
 * upcased `\A\B` keys as ParsedPath.key gives them; the root `\` contains everything.
 */
export function keyWithin(key: string, prefixKey: string): boolean {
  if (prefixKey === '\\') return true;
  return key === prefixKey || key.startsWith(`${prefixKey}\\`);
}
