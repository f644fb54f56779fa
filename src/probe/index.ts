/**
 * Probe: raw records → structured events with thread and fd context, and the replay pipeline
 * that `kcap print`, `kcap analyze` and the live path share. Rendering events is src/report's.
 */
export { Converter, type ConvertOptions, type Verdict } from './convert.js';
export { KEvent } from './event.js';
export { Replayer, replay, type ReplayOptions, type ReplayStats, type Visitor } from './replay.js';
export { FdInfo, ProcessInfo, ReplayState, ThreadInfo, type FdOrigin, type Role } from './state.js';
