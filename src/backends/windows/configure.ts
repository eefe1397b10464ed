/**
 * CONFIGURE from user input: namespaces given as DOS or NT paths (resolved by
 * ./namespaces.ts through the addon), the event-type mask and the queue limit; and reading back
 * what the driver can report about its policy.
 *
 * The policy is global in the driver and outlives the connection that set it: a CONFIGURE with
 * namespaces replaces every namespace, for every client, until the next one or the driver's
 * unload. The driver reports counts only (CONFIGURE's reply: managed and observed namespaces, the
 * effective mask and queue limit; GET_STATS: event and stream counters), never the paths.
 *
 * The connections made here say HELLO without FLTB_CAP_EVENT_BATCHES: the driver keeps no event
 * queue for them, so configuring takes no events from anyone.
 */
import { InvalidArgumentError } from '../../bridge/errors.js';
import {
  type ConfigureReplyBody,
  FLTB_CAP_ALL,
  FLTB_CAP_EVENT_BATCHES,
  type StatsReplyBody,
} from '../../protocol/index.js';
import type { NativeAddon } from './addon.js';
import { IoSession } from './io.js';
import {
  type NamespaceInput,
  ntPathOf,
  type ResolvedNamespace,
  resolveNamespaces,
} from './namespaces.js';
import { PortClient, type PortClientOptions } from './port.js';

export interface ConfigureOptions {
  /**
   * Replaces every namespace the driver has (DOS paths such as C:\fltb, relative ones too, or
   * NT paths such as \Device\HarddiskVolume3\fltb); `[]` clears them; absent leaves them.
   */
  readonly namespaces?: readonly NamespaceInput[];
  /** FLTB_EVENT_MASK bits (1 << FLTB_EVENT_*). */
  readonly eventTypeMask?: bigint;
  /** 16 … 1048576 records. */
  readonly queueLimit?: number;
  /** Relative DOS paths are taken from here; default process.cwd(). */
  readonly cwd?: string;
}

/** What CONFIGURE carries once the paths are resolved. */
export interface ResolvedConfigure {
  readonly namespaces?: readonly ResolvedNamespace[];
  readonly eventTypeMask?: bigint;
  readonly queueLimit?: number;
}

export interface DriverConfiguration {
  /** The namespaces sent (NT paths, with what the user gave); undefined: left as they were. */
  readonly namespaces: readonly ResolvedNamespace[] | undefined;
  /** The driver's effective settings after the command (counts, not paths). */
  readonly reply: ConfigureReplyBody;
}

/** What the driver reports about its policy: counts only. */
export interface DriverPolicy {
  /** From a CONFIGURE that sets nothing: namespace counts, effective mask and queue limit. */
  readonly settings: ConfigureReplyBody;
  readonly stats: StatsReplyBody;
}

/** Capabilities of a connection that only sends commands. */
export const COMMAND_ONLY_CAPABILITIES = FLTB_CAP_ALL & ~FLTB_CAP_EVENT_BATCHES;

/**
 * Resolve the namespaces' paths. An I/O session (its IOCP thread and runner) is opened only when
 * a DOS path needs the file system, and closed before returning.
 */
export async function resolveConfigure(
  addon: NativeAddon,
  options: ConfigureOptions,
): Promise<ResolvedConfigure> {
  let namespaces: ResolvedNamespace[] | undefined;
  if (options.namespaces !== undefined) {
    let session: IoSession | undefined;
    try {
      namespaces = await resolveNamespaces(
        options.namespaces,
        (given, opened) => {
          session ??= new IoSession(addon);
          return ntPathOf(addon, session, given, opened);
        },
        options.cwd ?? process.cwd(),
      );
    } finally {
      await session?.close();
    }
  }
  if (
    options.queueLimit !== undefined &&
    (!Number.isInteger(options.queueLimit) ||
      options.queueLimit < 16 ||
      options.queueLimit > 1048576)
  ) {
    throw new InvalidArgumentError(
      `queue limit ${String(options.queueLimit)} is out of range`,
      'use 16 to 1048576 records',
    );
  }
  return {
    ...(namespaces !== undefined ? { namespaces } : {}),
    ...(options.eventTypeMask !== undefined ? { eventTypeMask: options.eventTypeMask } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
  };
}

/** Send CONFIGURE with what resolveConfigure produced. */
export async function applyConfigure(
  port: PortClient,
  resolved: ResolvedConfigure,
): Promise<DriverConfiguration> {
  const reply = await port.configure({
    ...(resolved.namespaces !== undefined
      ? { namespaces: resolved.namespaces.map(({ kind, path }) => ({ kind, path })) }
      : {}),
    ...(resolved.eventTypeMask !== undefined ? { eventTypeMask: resolved.eventTypeMask } : {}),
    ...(resolved.queueLimit !== undefined ? { queueLimit: resolved.queueLimit } : {}),
  });
  return { namespaces: resolved.namespaces, reply };
}

async function withCommandPort<T>(
  addon: NativeAddon,
  portOptions: PortClientOptions,
  body: (port: PortClient) => Promise<T>,
): Promise<T> {
  const port = await PortClient.connect(addon, {
    ...portOptions,
    clientCapabilities: COMMAND_ONLY_CAPABILITIES,
  });
  try {
    return await body(port);
  } finally {
    await port.close();
  }
}

/** Resolve, connect (no event queue), CONFIGURE, disconnect. The policy stays in the driver. */
export async function configureDriverWith(
  addon: NativeAddon,
  options: ConfigureOptions,
  portOptions: PortClientOptions = {},
): Promise<DriverConfiguration> {
  const resolved = await resolveConfigure(addon, options);
  return withCommandPort(addon, portOptions, (port) => applyConfigure(port, resolved));
}

/** The driver's counts: a CONFIGURE that sets nothing, then GET_STATS. Changes nothing. */
export async function readDriverPolicyWith(
  addon: NativeAddon,
  portOptions: PortClientOptions = {},
): Promise<DriverPolicy> {
  return withCommandPort(addon, portOptions, async (port) => ({
    settings: await port.configure({}),
    stats: await port.getStats(),
  }));
}
