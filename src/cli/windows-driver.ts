/**
 * The CLI's view of driver management on Windows (install, uninstall, load, unload, status;
 * `configure` goes through the port instead, see ./namespaces.ts):
 * the windows backend's driver manager (src/backends/windows/driver.ts, koffi over fltlib and the
 * service manager), imported only when a command needs it.
 */

import type { DriverManager } from '../backends/windows/driver.js';

export type { DriverManager, DriverStatus } from '../backends/windows/driver.js';

export type DriverAction = 'install' | 'uninstall' | 'load' | 'unload' | 'status' | 'configure';

export async function driverManager(): Promise<DriverManager> {
  const { createDriverManager } = await import('../backends/windows/driver.js');
  return createDriverManager();
}
