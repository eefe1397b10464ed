/**
 * The driver manager the CLI's `fltbridge driver ...` and `doctor` use (src/cli/windows-driver.ts
 * imports this module on Windows and calls createDriverManager()). Async wrappers over
 * DriverAdmin with the koffi-backed Win32 calls.
 */
import { UnsupportedPlatformError } from '../../bridge/errors.js';
import { DriverAdmin, type DriverStatusReport, type DriverWin32 } from './driver-admin.js';
import { createKoffiDriverWin32 } from './driver-win32.js';

/** The shape src/cli/windows-driver.ts expects (DriverStatus there). */
export interface DriverStatus {
  readonly installed: boolean;
  readonly loaded: boolean;
  readonly instances: readonly string[];
  readonly version?: string;
  readonly altitude?: string;
}

export interface DriverManager {
  /** `existed`: the service was already there (its configuration was rewritten). */
  install(infPath?: string): Promise<{ readonly existed: boolean } | undefined>;
  /** `removed`: false when nothing was installed. */
  uninstall(): Promise<{ readonly removed: boolean } | undefined>;
  load(): Promise<void>;
  /** `wasLoaded`: false when the filter was not loaded. */
  unload(): Promise<{ readonly wasLoaded: boolean } | undefined>;
  status(): Promise<DriverStatus & Omit<DriverStatusReport, 'instances'>>;
}

/** A manager over the given Win32 calls (tests pass a fake); default: koffi, Windows only. */
export function createDriverManager(api?: DriverWin32): DriverManager {
  if (!api && process.platform !== 'win32') {
    throw new UnsupportedPlatformError('driver management (fltbridge driver ...)');
  }
  let admin: DriverAdmin | undefined;
  const get = () => {
    admin ??= new DriverAdmin(api ?? createKoffiDriverWin32());
    return admin;
  };
  return {
    async install(infPath?: string) {
      return get().install(
        infPath
          ? infPath.toLowerCase().endsWith('.sys')
            ? { sysPath: infPath }
            : { infPath }
          : {},
      );
    },
    async uninstall() {
      return get().uninstall();
    },
    async load() {
      get().load();
    },
    async unload() {
      return get().unload();
    },
    async status() {
      return get().status();
    },
  };
}

export { DriverAdmin, DriverError } from './driver-admin.js';
