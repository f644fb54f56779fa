/**
 * What an analysis produces, as plain, fully sorted data: the options it takes and the result the
 * text and JSON reports render (formats/analyze-json.md documents the JSON form).
 */
import type { KEvent } from '../probe/event.js';
import type { L7Record } from '../protocols/index.js';
import type { EndpointOperation, LatencySummary, ServiceEdge } from './aggregate.js';
import type { ConnContext } from './connections.js';
import type { PercentileMethod } from './histogram.js';
import type { TcpConnHealth, TcpTotals } from './tcp.js';

/** Rows per list (slowest requests, TCP; the report's other sections too) when no `top` is given. */
export const DEFAULT_TOP = 10;

export interface AnalyzeOptions {
  /** Only events this selects are analyzed (a compiled `kcap` filter). */
  readonly filter?: (ev: KEvent) => boolean;
  /** Only records this selects are reported and streamed (a compiled filter on L7 fields). */
  readonly recordFilter?: (rec: L7Record, ctx: ConnContext) => boolean;
  /** Only records of these protocols are reported. */
  readonly protocols?: readonly string[];
  /** Window on request start: [from, to). */
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  /** Length of the slowest-requests list (and of the TCP connections list). Default 10. */
  readonly top?: number;
}

/** A point in a capture: ns after its first event, or an absolute UTC time in ns. */
export type TimePoint = { readonly afterStartNs: number } | { readonly utcNs: bigint };

/** A request as a report lists it: what, how it went, and between whom. */
export interface RequestSummary {
  readonly startUtc: string;
  readonly latencyNs: number;
  readonly protocol: string;
  readonly operation: string;
  readonly resource: string;
  readonly status: string;
  readonly error: string;
  readonly client: string;
  readonly clientProcess: string;
  readonly server: string;
  readonly serverProcess: string;
}

export interface SlowRequest extends RequestSummary {
  /** ns since the capture started. */
  readonly startNs: number;
}

/** Everything the report says about what was incomplete, so no number is trusted blindly. */
export interface Incompleteness {
  readonly lostEvents: number;
  readonly malformedRecords: number;
  readonly streamGaps: number;
  readonly invalidFrames: number;
  readonly requestsWithoutResponse: number;
  readonly responsesWithoutRequest: number;
  readonly unknownProtocolConnections: number;
  readonly unknownProtocolBytes: number;
  /** Records kept with some fields unknown, per reason (HTTP/2 header state unknown, …). */
  readonly incompleteRecords: readonly { readonly reason: string; readonly count: number }[];
  readonly problems: readonly string[];
}

export interface AnalysisResult {
  readonly capture: {
    readonly hostname: string;
    readonly kernel: string;
    readonly startUtc: string;
    readonly endUtc: string;
    readonly durationNs: number;
    readonly events: number;
    readonly snaplen: number;
  };
  /** The window as ns after the first event, or null where open. */
  readonly window: { readonly fromNs: number | null; readonly toNs: number | null };
  readonly requests: number;
  readonly percentiles: PercentileMethod;
  readonly protocols: readonly ({ readonly protocol: string } & LatencySummary)[];
  readonly endpoints: readonly EndpointOperation[];
  readonly serviceMap: readonly ServiceEdge[];
  readonly slowest: readonly SlowRequest[];
  readonly tcp: { readonly totals: TcpTotals; readonly connections: readonly TcpConnHealth[] };
  readonly connections: { readonly total: number; readonly byProtocol: readonly { protocol: string; count: number }[]; readonly bothEndsJoined: number };
  readonly incomplete: Incompleteness;
}

