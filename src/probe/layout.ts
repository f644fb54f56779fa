/**
 * Precomputed byte offsets of the fields replay needs, per event id of a capture's own schema.
 * The generic RecordDecoder builds an object per record; the replay hot path instead reads the few
 * fields it needs straight from the chunk at these offsets, which is what makes millions of events
 * per second possible. A field whose name or type in the (untrusted) schema is not what replay
 * expects is treated as absent (-1), so a strange schema degrades context, never correctness.
 */
import type { FixedType, ResolvedEvent, ResolvedSchema } from '../schema/schema.js';

/** What conversion does with an event, chosen by its schema name. */
export enum Kind {
  Other, Io, Socket, Socketpair, Connect, Accept, Bind, Listen, Shutdown, Close, Dup, Open, Fork, Exec, Exit, Tcp,
}

const KIND_BY_NAME: Readonly<Record<string, Kind>> = {
  socket: Kind.Socket, socketpair: Kind.Socketpair, connect: Kind.Connect, accept: Kind.Accept, accept4: Kind.Accept,
  bind: Kind.Bind, listen: Kind.Listen, shutdown: Kind.Shutdown, close: Kind.Close,
  dup: Kind.Dup, dup2: Kind.Dup, dup3: Kind.Dup, fcntl_dupfd: Kind.Dup,
  open: Kind.Open, openat: Kind.Open, openat2: Kind.Open, fork: Kind.Fork, exec: Kind.Exec, exit: Kind.Exit,
};

/** Fixed fields replay reads, with the types it reads them as. */
const FIELD_TYPES = {
  res: ['i64'], latency: ['u64'], fd: ['i32'], flags: ['u32'], ino: ['u64'], laddr: ['bytes16'], raddr: ['bytes16'],
  lport: ['u16'], rport: ['u16'], family: ['u16'], l4proto: ['u8'], socktype: ['u8', 'i32'],
  listen_fd: ['i32'], oldfd: ['i32'], dirfd: ['i32'], domain: ['i32'], fd0: ['i32'], fd1: ['i32'], how: ['i32'],
  child_pid: ['u32'], child_tid: ['u32'], old_tid: ['u32'], exit_code: ['i32'], group_dead: ['u32'],
  state: ['u32'], newstate: ['u32'],
} as const satisfies Record<string, readonly FixedType[]>;

export type LayoutField = keyof typeof FIELD_TYPES;
const LAYOUT_FIELDS = Object.keys(FIELD_TYPES) as LayoutField[];

/** Variable fields replay reads. */
const VAR_NAMES = ['data', 'addr', 'path', 'filename', 'comm', 'args', 'child_comm'] as const;
export type LayoutVar = (typeof VAR_NAMES)[number];

export interface EventLayout {
  readonly event: ResolvedEvent;
  readonly kind: Kind;
  /** Offset of each field from the record start, -1 when the event has no such field. */
  readonly off: Readonly<Record<LayoutField, number>>;
  /** Type each present field was declared with (some fields accept more than one). */
  readonly type: Readonly<Partial<Record<LayoutField, FixedType>>>;
  /** Index of each variable field among the event's vars, -1 when absent. */
  readonly varIndex: Readonly<Record<LayoutVar, number>>;
  readonly isIo: boolean;
  /** 1 for 'in', 2 for 'out', 0 for none. */
  readonly dir: 0 | 1 | 2;
}

function kindOf(e: ResolvedEvent): Kind {
  if (e.category === 'io' && e.dir !== undefined) return Kind.Io;
  if (e.category === 'tcp') return Kind.Tcp;
  return KIND_BY_NAME[e.name] ?? Kind.Other;
}

function eventLayout(e: ResolvedEvent): EventLayout {
  const off = {} as Record<LayoutField, number>;
  const type: Partial<Record<LayoutField, FixedType>> = {};
  for (const name of LAYOUT_FIELDS) {
    const f = e.fieldByName.get(name);
    const ok = f !== undefined && (FIELD_TYPES[name] as readonly FixedType[]).includes(f.type);
    off[name] = ok ? f.offset : -1;
    if (ok) type[name] = f.type;
  }
  const varIndex = {} as Record<LayoutVar, number>;
  for (const name of VAR_NAMES) varIndex[name] = e.vars.findIndex((v) => v.name === name);
  const kind = kindOf(e);
  return { event: e, kind, off, type, varIndex, isIo: kind === Kind.Io, dir: e.dir === 'in' ? 1 : e.dir === 'out' ? 2 : 0 };
}

/** Layouts indexed by event id (sparse array: ids are at most 0xffff). */
export function buildLayouts(schema: ResolvedSchema): (EventLayout | undefined)[] {
  const byId: (EventLayout | undefined)[] = [];
  for (const e of schema.events) byId[e.id] = eventLayout(e);
  return byId;
}
