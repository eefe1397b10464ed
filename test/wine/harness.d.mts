// Types for harness.mjs (used from bench/port-double.bench.ts).
export const MINGW_GCC: string;
export function winePath(path: string): string;
export function wineDir(root: string): string;
export function addonBuildPath(root: string): string;
export function prepareDouble(root: string): {
  dir: string;
  node: string;
  addon: string;
  build: { code: number; stdout: string; stderr: string };
};
export function prepareRenamedHost(root: string): string;
export interface WindowsNodeRun {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  ms: number;
  stdout: string;
  stderr: string;
}
export function runWindowsNode(
  root: string,
  exe: string,
  script: string,
  args: string[],
  options?: { env?: Record<string, string>; timeoutMs?: number; name?: string },
): Promise<WindowsNodeRun>;
export function startPortServer(
  root: string,
  options?: { report?: string },
): Promise<{ port: number; control: number; stop(): Promise<void> }>;
export function resultsDir(root: string): string;
export function windowsNodeExe(root: string): string | undefined;
