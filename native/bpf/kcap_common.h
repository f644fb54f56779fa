/*
 * Building blocks of the kcap programs: maps, the process filter, the per-thread stash of syscall
 * arguments (enter → exit), record assembly in per-CPU scratch slots, socket 4-tuples read
 * through BTF offsets (cached per socket once final), and submission to the ring buffer with
 * adaptive wakeup.
 *
 * Records are assembled in scratch and copied out with bpf_ringbuf_output, because their size
 * (payload, paths, sockaddrs) is only known at the end; bpf_ringbuf_reserve needs it up front.
 */
#ifndef KCAP_COMMON_H
#define KCAP_COMMON_H

#include "kcap_bpf.h"
#include "kcap_events.h"
#include "kcap_config.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define SOCKADDR_MAX 128 /* sizeof(struct sockaddr_storage) */
#define IOV_MAX_READ 1024 /* iovecs followed per call: UIO_MAXIOV, all a call may pass (gRPC writes a frame in dozens) */
#define MMSG_MAX 16      /* messages reported per sendmmsg/recvmmsg call */
#define MMSG_IOV_MAX 1   /* iovecs followed per message of sendmmsg/recvmmsg (verifier budget) */
#define PATH_MAX_READ 4096

/* Offsets and lengths into scratch are masked with VAR_MASK so the verifier can bound every
 * access: any offset (< VAR_MASK) plus any length (< VAR_MASK) stays inside SCRATCH_SIZE. */
#define VAR_MASK 0x1ffff
#define SCRATCH_SIZE 0x40000
_Static_assert(KCAP_SNAP_MAX + 256 + SOCKADDR_MAX < VAR_MASK, "snaplen fits the var mask");
_Static_assert(VAR_MASK + 1 == KCAP_RECORD_MAX, "the record limit user space sizes its buffers by");

/* v & VAR_MASK, done in asm so the compiler cannot drop the mask when it can prove it redundant
 * (the verifier tracks registers, not the compiler's knowledge). */
INLINE __u64 bounded(__u64 v)
{
	asm volatile("%[v] &= 0x1ffff" : [v] "+r"(v));
	return v;
}

/* Same layout as the schema's "tuple" fieldset. */
struct kcap_tuple {
	__u64 ino;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u16 family;
	__u8 l4proto;
	__u8 socktype;
};

/* Prefix shared by every event built on the schema's "io" fieldset. */
struct kcap_io {
	struct kcap_hdr hdr;
	__s64 res;
	__u64 latency;
	__s32 fd;
	__u32 flags;
	struct kcap_tuple t;
};
_Static_assert(sizeof(struct kcap_io) == sizeof(struct kcap_evt_read), "io prefix matches the schema");
_Static_assert(__builtin_offsetof(struct kcap_evt_read, socktype) == __builtin_offsetof(struct kcap_io, t.socktype), "tuple layout");

/* Syscall tracepoint contexts (tracefs format of syscalls/sys_enter_* and sys_exit_*). */
struct sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};
struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

/* What sys_enter saw, kept until the matching sys_exit of the same thread. */
struct stash {
	__u64 ts;
	__u64 args[6];
	__s32 nr;
	__u32 pad;
	struct kcap_tuple t; /* close: the fd's socket, read before it goes away */
};

struct scratch {
	__u8 b[SCRATCH_SIZE];
};

KCAP_MAP(kcap_cfg, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct kcap_config), 1, 0);
/* One ring buffer per CPU: with one shared ring, its lock, producer position and the previous
 * record's header bounce between CPUs on every record. kcap_ring is the shape of every CPU's ring
 * (and CPU 0's ring itself); the loader fills kcap_rings with one per CPU, and the recorder merges
 * them back into timestamp order as it drains. */
KCAP_MAP(kcap_ring, BPF_MAP_TYPE_RINGBUF, 0, 0, 0, 0);                           /* sized by the loader */
KCAP_MAP(kcap_rings, BPF_MAP_TYPE_ARRAY_OF_MAPS, sizeof(__u32), sizeof(__u32), 0, 0); /* CPUs */
/* Scratch slots: KCAP_SCRATCH_DEPTH per CPU, because a raw tracepoint program (tcp_probe in
 * softirq) can interrupt another program on the same CPU while it builds a record. */
KCAP_MAP(kcap_scratch, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct scratch), 0, 0); /* CPUs × depth */
KCAP_MAP(kcap_depth, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u32), 1, 0);
KCAP_MAP(kcap_pids, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(__u8), 65536, 0);
KCAP_MAP(kcap_stash, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct stash), 65536, 0);
KCAP_MAP(kcap_lost, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64), 1, 0);
/* Under a process filter, which sockets TCP events are kept for (see tcp_traced): the struct sock
 * of every TCP socket a traced process used, and the ports traced processes listen on. */
KCAP_MAP(kcap_socks, BPF_MAP_TYPE_LRU_HASH, sizeof(__u64), sizeof(__u8), 65536, 0);
/* A listening port is its network namespace's: the same port in another namespace (another
 * container's) is another service. Layout mirrored by lportKey() in src/record/bpf/index.ts.
 * The value is the struct sock of the traced listener that owns the port, so that its close
 * ends the port's following; 0 while not known (a port from the start tables until its first
 * accept). */
struct lport_key {
	__u32 netns; /* inode number of the socket's network namespace */
	__u16 port;
	__u16 pad;
};
KCAP_MAP(kcap_lports, BPF_MAP_TYPE_HASH, sizeof(struct lport_key), sizeof(__u64), 4096, 0);
/* tcp_probe rate limit: (struct sock address, boot ns of its last tcp_probe record) in sets of
 * two ways, indexed by a hash of the address. An array lookup costs a few instructions where a
 * hash map's costs a helper call and, for an LRU, a shared write. A socket takes a way only once
 * the way's last record is an interval old, so no socket is recorded twice within an interval;
 * a socket finding both ways of its set recent is not recorded then. */
struct probe_way {
	__u64 sk;
	__u64 last;
};
struct probe_set {
	struct probe_way way[2];
};
#define PROBE_SETS 4096
KCAP_MAP(kcap_probe_last, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct probe_set), PROBE_SETS, 0);

INLINE struct kcap_config *config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&kcap_cfg, &zero);
}

INLINE int traced(const struct kcap_config *cfg, __u32 tgid)
{
	if (tgid == cfg->self_pid || cfg->filter_mode == KCAP_FILTER_OFF)
		return 0;
	if (cfg->filter_mode == KCAP_FILTER_PIDS)
		return bpf_map_lookup_elem(&kcap_pids, &tgid) != 0;
	if (cfg->filter_mode == KCAP_FILTER_COMM) {
		__u64 comm[2] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		const __u64 *want = (const __u64 *)cfg->comm;
		return comm[0] == want[0] && comm[1] == want[1];
	}
	return 1;
}

/* Whether some processes are left out (TCP events then follow the sockets of those traced). */
INLINE int filtered(const struct kcap_config *cfg)
{
	return cfg->filter_mode == KCAP_FILTER_PIDS || cfg->filter_mode == KCAP_FILTER_COMM;
}

INLINE void own_socket(__u64 sk)
{
	__u8 one = 1;
	bpf_map_update_elem(&kcap_socks, &sk, &one, BPF_ANY);
}

INLINE __u64 rd_u64(__u64 addr)
{
	__u64 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
	return v;
}

INLINE __u32 rd_u32(__u64 addr)
{
	__u32 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
	return v;
}

INLINE __u16 rd_u16(__u64 addr)
{
	__u16 v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
	return v;
}

/* Fills the tuple from a struct sock (everything but the inode). */
INLINE void sk_tuple(const struct kcap_offsets *o, __u64 sk, struct kcap_tuple *t)
{
	if (!sk)
		return;
	__u16 family = rd_u16(sk + o->sk_family);
	t->family = family;
	t->socktype = rd_u16(sk + o->sk_type);
	if (family != AF_INET && family != AF_INET6)
		return;
	t->l4proto = rd_u16(sk + o->sk_protocol);
	t->lport = rd_u16(sk + o->sk_num);
	t->rport = __builtin_bswap16(rd_u16(sk + o->sk_dport));
	if (family == AF_INET) {
		bpf_probe_read_kernel(t->laddr, 4, (const void *)(sk + o->sk_rcv_saddr));
		bpf_probe_read_kernel(t->raddr, 4, (const void *)(sk + o->sk_daddr));
	} else {
		bpf_probe_read_kernel(t->laddr, 16, (const void *)(sk + o->sk_v6_rcv_saddr));
		bpf_probe_read_kernel(t->raddr, 16, (const void *)(sk + o->sk_v6_daddr));
	}
}

#define IPPROTO_TCP 6
#define SOCK_STREAM 1

/* The tuple of the connection a received TCP segment belongs to, from its IP and TCP headers, as
 * seen from this host (the segment's destination is the local end). For resets the kernel sends
 * on behalf of no socket: the segment is all there is. */
INLINE void skb_tuple(const struct kcap_offsets *o, __u64 skb, struct kcap_tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	if (!skb)
		return;
	__u64 head = rd_u64(skb + o->skb_head);
	__u64 ip = head + rd_u16(skb + o->skb_network_header);
	__u64 tcp = head + rd_u16(skb + o->skb_transport_header);
	__u8 version = 0;
	__u16 ports[2] = {}; /* source, dest; big endian */
	if (!head || bpf_probe_read_kernel(&version, 1, (const void *)ip) ||
	    bpf_probe_read_kernel(ports, sizeof(ports), (const void *)tcp))
		return;
	if (version >> 4 == 4) {
		t->family = AF_INET;
		bpf_probe_read_kernel(t->raddr, 4, (const void *)(ip + 12)); /* iphdr.saddr */
		bpf_probe_read_kernel(t->laddr, 4, (const void *)(ip + 16)); /* iphdr.daddr */
	} else if (version >> 4 == 6) {
		t->family = AF_INET6;
		bpf_probe_read_kernel(t->raddr, 16, (const void *)(ip + 8));  /* ipv6hdr.saddr */
		bpf_probe_read_kernel(t->laddr, 16, (const void *)(ip + 24)); /* ipv6hdr.daddr */
	} else {
		return;
	}
	t->l4proto = IPPROTO_TCP;
	t->socktype = SOCK_STREAM;
	t->rport = __builtin_bswap16(ports[0]);
	t->lport = __builtin_bswap16(ports[1]);
}

/* The tuple of a struct sock reached from the network stack (tcp tracepoints). */
INLINE void sock_tuple(const struct kcap_offsets *o, __u64 sk, struct kcap_tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	if (!sk)
		return;
	__u64 socket = rd_u64(sk + o->sk_socket);
	if (socket)
		t->ino = rd_u64(socket + o->socket_alloc_inode + o->inode_ino);
	sk_tuple(o, sk, t);
}

/* Socket inode number → its tuple, so the I/O of an established connection reads 7 kernel words
 * instead of 16. Inode numbers of sockets are not reused while the counter does not wrap, and
 * only tuples that cannot change any more are cached (see tuple_final); connect and bind always
 * read afresh and refresh the entry.
 *
 * The cache is direct-mapped and per CPU: a slot is found with a multiply and an array index,
 * which the verifier inlines (a hash map costs a helper call and a shared LRU list per event),
 * and no other CPU writes it while it is copied (syscall programs do not nest on a CPU). A slot
 * holds one socket; a collision only costs the full read. connect and bind reach every CPU's
 * copy through kcap_sock_gen: bumping the slot's shared generation invalidates them all. */
#define SOCK_SLOTS 4096
struct sock_slot {
	struct kcap_tuple t; /* t.ino is the key */
	__u64 gen;           /* kcap_sock_gen of the slot when filled */
};
KCAP_MAP(kcap_sock_cache, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct sock_slot), SOCK_SLOTS, 0);
KCAP_MAP(kcap_sock_gen, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), SOCK_SLOTS, 0);

INLINE __u32 sock_slot_of(__u64 ino)
{
	_Static_assert(SOCK_SLOTS == 1 << 12, "the slot index takes the hash's top 12 bits");
	return (ino * 0x9e3779b97f4a7c15ULL) >> 52;
}

/* A tuple that no later call on the same socket changes (bind, connect, autobind on send). */
INLINE int tuple_final(const struct kcap_tuple *t)
{
	if (t->family != AF_INET && t->family != AF_INET6)
		return 1;
	if (t->l4proto == IPPROTO_TCP)
		return t->lport && t->rport;
	return 0; /* UDP and others: connect() may still change the peer */
}

enum tuple_mode { TUPLE_CACHED, TUPLE_FRESH };

/* Whether an inode is a socket's, and its number. i_mode opens struct inode and i_ino follows 64
 * bytes later on the usual kernel configurations: one read then gets both (a helper call saved
 * on every socket event); other layouts take two. */
INLINE int socket_ino(const struct kcap_offsets *o, __u64 inode, __u64 *ino)
{
	__u16 mode;
	if (o->inode_ino == o->inode_mode + 64) {
		__u64 head[9] = {};
		if (bpf_probe_read_kernel(head, sizeof(head), (const void *)(inode + o->inode_mode)))
			return 0;
		mode = (__u16)head[0]; /* little-endian: i_mode is the first word's low half */
		*ino = head[8];
	} else {
		mode = rd_u16(inode + o->inode_mode);
		*ino = rd_u64(inode + o->inode_ino);
	}
	return (mode & S_IFMT) == S_IFSOCK;
}

/* The struct file of the current task's fd, 0 when there is none. */
INLINE __u64 fd_file(const struct kcap_offsets *o, __s32 fd)
{
	if (fd < 0)
		return 0;
	__u64 files = rd_u64(bpf_get_current_task() + o->task_files);
	__u64 fdt = rd_u64(files + o->files_fdt);
	/* max_fds and fd are neighbours in struct fdtable (checked against BTF at load): one read. */
	struct { __u32 max_fds; __u32 pad; __u64 fd; } tab = {};
	if (!fdt || bpf_probe_read_kernel(&tab, sizeof(tab), (const void *)(fdt + o->fdt_max_fds)) ||
	    (__u32)fd >= tab.max_fds)
		return 0;
	return rd_u64(tab.fd + (__u64)fd * 8);
}

/* The struct sock of a file the caller knows to be a socket's. */
INLINE __u64 file_sock(const struct kcap_offsets *o, __u64 file)
{
	__u64 sock = file ? rd_u64(file + o->file_private_data) : 0;
	return sock ? rd_u64(sock + o->socket_sk) : 0;
}

/* sk's local port in sk's network namespace. */
INLINE struct lport_key lport_of(const struct kcap_offsets *o, __u64 sk)
{
	struct lport_key k = { .netns = rd_u32(rd_u64(sk + o->sk_net) + o->net_ns_inum), .port = rd_u16(sk + o->sk_num) };
	return k;
}

/* Every accept comes here: a port its listener already owns costs a lookup, not a hash update. */
INLINE void own_port(const struct kcap_offsets *o, __u64 listener)
{
	struct lport_key k = lport_of(o, listener);
	if (!k.port)
		return;
	__u64 *owner = bpf_map_lookup_elem(&kcap_lports, &k);
	if (!owner || *owner != listener)
		bpf_map_update_elem(&kcap_lports, &k, &listener, BPF_ANY);
}

/* A closing listener ends its port's following if it owns the port: another process may listen
 * there next. With SO_REUSEPORT, a traced listener closing before the port's owner keeps it
 * followed; the owner closing first drops it until another traced listener's next accept. */
INLINE void forget_port(const struct kcap_offsets *o, __u64 listener)
{
	struct lport_key k = lport_of(o, listener);
	__u64 *owner = bpf_map_lookup_elem(&kcap_lports, &k);
	if (owner && *owner == listener)
		bpf_map_delete_elem(&kcap_lports, &k);
}

/* What fd_tuple found behind an fd. */
enum fd_kind {
	FD_UNKNOWN,    /* not readable (no such fd, or a fault) */
	FD_NOT_SOCKET,
	FD_SOCKET,
};

/* The tuple of the current task's fd, all zero when the fd is not a socket. A TCP socket read
 * afresh is marked as a traced process's (the cache only holds what was read afresh before). */
INLINE enum fd_kind fd_tuple(const struct kcap_config *cfg, __s32 fd, struct kcap_tuple *t, enum tuple_mode mode)
{
	const struct kcap_offsets *o = &cfg->off;
	__builtin_memset(t, 0, sizeof(*t));
	__u64 file = fd_file(o, fd);
	if (!file)
		return FD_UNKNOWN;
	__u64 ino;
	if (!socket_ino(o, rd_u64(file + o->file_inode), &ino))
		return FD_NOT_SOCKET;
	__u32 idx = sock_slot_of(ino);
	struct sock_slot *slot = bpf_map_lookup_elem(&kcap_sock_cache, &idx);
	__u64 *gen = bpf_map_lookup_elem(&kcap_sock_gen, &idx);
	if (!slot || !gen)
		return FD_SOCKET;
	/* The generation is taken before the socket is read: if connect or bind on another CPU
	 * bumps it meanwhile, what this read fills is already invalid. */
	__u64 g = mode == TUPLE_FRESH ? __sync_add_and_fetch(gen, 1) : *gen;
	if (mode == TUPLE_CACHED && ino && slot->t.ino == ino && slot->gen == g) {
		__builtin_memcpy(t, &slot->t, sizeof(*t));
		return FD_SOCKET;
	}
	t->ino = ino;
	__u64 sk = file_sock(o, file);
	sk_tuple(o, sk, t);
	if (sk && t->l4proto == IPPROTO_TCP && filtered(cfg))
		own_socket(sk);
	if (tuple_final(t)) {
		__builtin_memcpy(&slot->t, t, sizeof(*t));
		slot->gen = g;
	}
	return FD_SOCKET;
}

/* One record under construction: fixed part written in place, variable fields appended at pos. */
struct rec {
	struct kcap_config *cfg;
	struct stash *s; /* syscall events only */
	__u8 *buf;
	__u32 *depth;    /* this CPU's scratch nesting level, released by rec_submit */
	__u32 lens;      /* offset of the var length array */
	__u32 pos;       /* where the next var's bytes go */
};

INLINE void count_lost(void);

/* Starts a record of `type` with `fixed` bytes of header + fixed fields and `nvars` vars, in the
 * scratch slot of this CPU's current nesting level. Interrupting programs finish before the
 * interrupted one resumes, so a level taken here is free again when rec_submit returns it. */
INLINE int rec_begin(struct rec *r, struct kcap_config *cfg, __u16 type, __u32 fixed, __u32 nvars)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&kcap_depth, &zero);
	if (!depth)
		return 0;
	__u32 level = *depth;
	if (level >= KCAP_SCRATCH_DEPTH) {
		count_lost();
		return 0;
	}
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 slot = cpu * KCAP_SCRATCH_DEPTH + level;
	__u8 *buf = bpf_map_lookup_elem(&kcap_scratch, &slot);
	if (!buf)
		return 0;
	*depth = level + 1;
	r->depth = depth;
	__u64 id = bpf_get_current_pid_tgid();
	struct kcap_hdr *h = (struct kcap_hdr *)buf;
	h->type = type;
	h->cpu = cpu;
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	r->cfg = cfg;
	r->buf = buf;
	r->lens = fixed;
	r->pos = fixed + 4 * nvars;
	return 1;
}

INLINE void rec_len(struct rec *r, __u32 idx, __u32 n)
{
	*(__u32 *)(r->buf + r->lens + 4 * idx) = n;
	r->pos += n;
}

/* Appends up to n user bytes as var idx; nothing when the memory is unreadable. */
INLINE void add_user(struct rec *r, __u32 idx, __u64 src, __u64 n)
{
	__u32 got = 0;
	if (src && n) {
		n = bounded(n);
		if (bpf_probe_read_user(r->buf + bounded(r->pos), n, (const void *)src) == 0)
			got = n;
	}
	rec_len(r, idx, got);
}

/* Appends up to `limit` bytes gathered from the first max_iov entries of a user iovec array as
 * var idx (max_iov is a constant: it bounds the verifier's work). */
INLINE void add_iov(struct rec *r, __u32 idx, __u64 iov, __u64 cnt, __u64 limit, int max_iov)
{
	__u32 done = 0;
	/* One fork per iovec that goes on (clipping to what is left); every other test leaves the
	 * loop, so the verifier's work grows with max_iov, not exponentially. A zero-length read is
	 * allowed, which spares a test. */
	for (int i = 0; i < max_iov && i < cnt && done < limit; i++) {
		struct { __u64 base; __u64 len; } v;
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)(iov + 16 * i)))
			break;
		__u64 n = limit - done;
		if (v.len < n)
			n = v.len;
		n = bounded(n);
		if (bpf_probe_read_user(r->buf + bounded(r->pos + done), n, (const void *)v.base))
			break;
		done += n;
	}
	rec_len(r, idx, done);
}

/* Appends a NUL-terminated string (without its NUL) of at most max - 1 bytes as var idx. */
INLINE void add_str(struct rec *r, __u32 idx, __u64 src, __u32 max, int user)
{
	long n = 0;
	if (src) {
		__u8 *dst = r->buf + bounded(r->pos);
		n = user ? bpf_probe_read_user_str(dst, max, (const void *)src)
			 : bpf_probe_read_kernel_str(dst, max, (const void *)src);
	}
	rec_len(r, idx, n > 0 ? (__u32)(n - 1) : 0);
}

/* Appends a user sockaddr of addrlen bytes (capped at sockaddr_storage) as var idx. */
INLINE void add_sockaddr(struct rec *r, __u32 idx, __u64 addr, __s64 addrlen)
{
	if (addrlen < 0)
		addrlen = 0;
	if (addrlen > SOCKADDR_MAX)
		addrlen = SOCKADDR_MAX;
	add_user(r, idx, addr, addrlen);
}

/* Reads the int a caller passed by pointer (socklen_t *addrlen), 0 if unreadable. */
INLINE __s64 user_int(__u64 p)
{
	__s32 v = 0;
	if (p)
		bpf_probe_read_user(&v, sizeof(v), (const void *)p);
	return v;
}

INLINE __u32 snaplen(const struct kcap_config *cfg, __s64 res)
{
	__u32 snap = cfg->snaplen;
	if (snap > KCAP_SNAP_MAX)
		snap = KCAP_SNAP_MAX;
	return res <= 0 ? 0 : res < snap ? (__u32)res : snap;
}

INLINE void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&kcap_lost, &zero);
	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* Ships the record and keeps the scratch slot (sendmmsg emits several records from one).
 * The consumer polls, so records go out without a wakeup (a wakeup per record costs more than
 * the tracing itself); only a consumer that asked for it (wakeup_bytes > 0) is woken once that
 * much is pending, and only then is the fill level queried (a helper call per record). */
INLINE void rec_emit(struct rec *r)
{
	struct kcap_hdr *h = (struct kcap_hdr *)r->buf;
	__u32 len = bounded(r->pos);
	h->len = len;
	__u32 cpu = h->cpu; /* programs do not migrate while they run */
	void *ring = bpf_map_lookup_elem(&kcap_rings, &cpu);
	if (!ring) {
		count_lost();
		return;
	}
	__u64 wakeup = r->cfg->wakeup_bytes;
	__u64 flags = wakeup && bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= wakeup ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(ring, r->buf, len, flags))
		count_lost();
}

/* Ships the record and frees its scratch slot. */
INLINE void rec_submit(struct rec *r)
{
	rec_emit(r);
	*r->depth -= 1;
}

/* ---- syscall events ---- */

/* The stash of the current thread if it entered syscall ctx->nr while traced. */
INLINE struct stash *stash_take(const struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&kcap_stash, &tid);
	if (!s || s->nr != ctx->nr)
		return 0;
	s->nr = -1; /* consumed: a later untraced exit of the same syscall must not reuse it */
	return s;
}

/* Starts the record of a syscall exit; 0 when the thread was not traced at enter. */
INLINE int sys_begin(struct rec *r, const struct sys_exit_ctx *ctx, __u16 type, __u32 fixed, __u32 nvars)
{
	struct kcap_config *cfg = config();
	if (!cfg)
		return 0;
	struct stash *s = stash_take(ctx);
	if (!s || !rec_begin(r, cfg, type, fixed, nvars))
		return 0;
	r->s = s;
	return 1;
}

/* The io fieldset: result, latency, fd, flags and the fd's socket tuple; what the fd is. */
INLINE enum fd_kind io_fixed_mode(struct rec *r, const struct sys_exit_ctx *ctx, __s32 fd, __u32 flags, enum tuple_mode mode)
{
	struct kcap_io *e = (struct kcap_io *)r->buf;
	e->res = ctx->ret;
	e->latency = e->hdr.ts - r->s->ts;
	e->fd = fd;
	e->flags = flags;
	return fd_tuple(r->cfg, fd, &e->t, mode);
}

INLINE enum fd_kind io_fixed(struct rec *r, const struct sys_exit_ctx *ctx, __s32 fd, __u32 flags)
{
	return io_fixed_mode(r, ctx, fd, flags, TUPLE_CACHED);
}

/* Whether the record filter may select I/O on this fd (see KCAP_KEEP_*): only what it certainly
 * rejects fails, so an fd that could not be read passes. */
INLINE int io_may_keep(const struct kcap_config *cfg, enum fd_kind kind, const struct kcap_tuple *t)
{
	__u32 keep = cfg->io_keep;
	if (!keep || kind == FD_UNKNOWN)
		return 1;
	if (kind == FD_NOT_SOCKET)
		return !(keep & KCAP_KEEP_SOCKETS);
	/* Only a TCP tuple is final: a UDP socket's peer may come from each call's address. */
	if (!(keep & KCAP_KEEP_PORTS) || t->l4proto != IPPROTO_TCP || !t->lport || !t->rport)
		return 1;
#pragma unroll
	for (int i = 0; i < KCAP_IO_PORTS; i++) {
		__u16 p = cfg->io_ports[i];
		if (p && (p == t->lport || p == t->rport))
			return 1;
	}
	return 0;
}

/* io_fixed for the calls that move data, which the record filter may drop: 0 when it certainly
 * rejects this one, whose record is then dropped before its payload is copied. */
INLINE int io_kept(struct rec *r, const struct sys_exit_ctx *ctx, __s32 fd, __u32 flags)
{
	enum fd_kind kind = io_fixed(r, ctx, fd, flags);
	if (io_may_keep(r->cfg, kind, &((struct kcap_io *)r->buf)->t))
		return 1;
	*r->depth -= 1;
	return 0;
}

/* Result and latency at the start of the dup/open/socket fixed parts. */
INLINE void res_fixed(struct rec *r, const struct sys_exit_ctx *ctx)
{
	struct kcap_io *e = (struct kcap_io *)r->buf;
	e->res = ctx->ret;
	e->latency = e->hdr.ts - r->s->ts;
}

#endif /* KCAP_COMMON_H */
