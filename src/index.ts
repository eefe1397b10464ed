/**
 * fltbridge: see and script Windows oplocks and byte-range locks.
 *
 * The public surface:
 * - the backend-neutral Bridge types, NTSTATUS helpers, typed errors and flag parsers (src/bridge);
 * - the backends: createModelBridge (in-process model, every platform) and createWindowsBridge
 *   (addon + driver, Windows only; loads nothing native when imported elsewhere), and the
 *   driver manager behind `fltbridge driver`;
 * - scenarios: parse, run, compare and fuzz the same files the CLI runs;
 * - the wire-protocol codec (`protocol`) and the model's packages (`model`) as namespaces.
 * The vitest helper for hardware-in-the-loop tests is the `fltbridge/testing` subpath.
 */
export {
  createModelBridge,
  type ModelBridge,
  type ModelBridgeOptions,
  type ModelFileSpec,
} from './backends/model.js';
export { createDriverManager, DriverError } from './backends/windows/driver.js';
export {
  createWindowsBridge,
  DEFAULT_PORT_NAME,
  type EventsMode,
  PortClient,
  WindowsBridge,
  type WindowsBridgeOptions,
  type WindowsResultDetail,
} from './backends/windows.js';
export * from './bridge/index.js';
export * as model from './model/index.js';
export * as protocol from './protocol/index.js';
export { openBackend } from './scenario/backends.js';
export { compareRuns } from './scenario/diff.js';
export { scenarioToYaml } from './scenario/format.js';
export { fuzz } from './scenario/fuzz/fuzz.js';
export { loadScenario, parseScenario } from './scenario/parse.js';
export {
  type RunOptions,
  runScenario,
  type ScenarioResult,
  ScenarioRun,
  type StepResult,
} from './scenario/runner.js';
export type { Expectation, Scenario, Step } from './scenario/schema.js';
