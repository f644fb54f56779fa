/*
 * The kcap BPF programs. Syscalls: one shared enter program stashes the arguments per thread,
 * and one exit program per event (attached to syscalls/sys_exit_<name> tracepoints) emits the
 * completed call as a schema record (enter programs exist per argument count). Processes and TCP: raw tracepoints, reading kernel structs
 * through offsets from BTF. Which program attaches where is decided in src/record/bpf/attach.ts.
 *
 * Above each field the schema name it fills, so review is a line-by-line comparison with
 * formats/events.json.
 */
#include "kcap_common.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030

/* ---- syscall enter ---- */

/* Copies the first nargs arguments: a program may not read past the end of the tracepoint's
 * record (the kernel refuses to attach it), so there is one enter program per argument count. */
INLINE struct stash *stash_put(const struct sys_enter_ctx *ctx, int nargs)
{
	struct kcap_config *cfg = config();
	if (!cfg || !traced(cfg, bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	/* A thread's entry is created once and then rewritten in place: replacing it through
	 * bpf_map_update_elem would allocate and free an element on every syscall. */
	struct stash *s = bpf_map_lookup_elem(&kcap_stash, &tid);
	if (!s) {
		struct stash init = {};
		/* The table full (every entry a live traced thread): this syscall's event is lost. */
		if (bpf_map_update_elem(&kcap_stash, &tid, &init, BPF_ANY)) {
			count_lost();
			return 0;
		}
		s = bpf_map_lookup_elem(&kcap_stash, &tid);
		if (!s)
			return 0;
	}
	s->ts = bpf_ktime_get_boot_ns();
	s->nr = ctx->nr;
#pragma unroll
	for (int i = 0; i < 6; i++)
		if (i < nargs)
			s->args[i] = ctx->args[i];
	return s;
}

#define SYS_ENTER(n)                                            \
	SEC("tracepoint/sys_enter_" #n)                         \
	int kcap_sys_enter##n(struct sys_enter_ctx *ctx)        \
	{                                                       \
		stash_put(ctx, n);                              \
		return 0;                                       \
	}
SYS_ENTER(1)
SYS_ENTER(2)
SYS_ENTER(3)
SYS_ENTER(4)
SYS_ENTER(5)
SYS_ENTER(6)

/* close must read the fd's socket before the fd is gone. */
SEC("tracepoint/sys_enter_close")
int kcap_sys_enter_close(struct sys_enter_ctx *ctx)
{
	struct stash *s = stash_put(ctx, 1);
	struct kcap_config *cfg = config();
	if (s && cfg)
		fd_tuple(cfg, (__s32)ctx->args[0], &s->t, TUPLE_CACHED);
	return 0;
}

/* ---- syscall exit: plain buffers ---- */

/* read, write, pread64, pwrite64: (fd, buf, count[, pos]) */
INLINE int buf_io(struct sys_exit_ctx *ctx, __u16 type, __u32 fixed)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, fixed, 1))
		return 0;
	if (!io_kept(&r, ctx, (__s32)r.s->args[0], 0))
		return 0;
	/* data */
	add_user(&r, 0, r.s->args[1], snaplen(r.cfg, ctx->ret));
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_read")
int kcap_exit_read(struct sys_exit_ctx *ctx) { return buf_io(ctx, KCAP_EVT_READ, sizeof(struct kcap_evt_read)); }

SEC("tracepoint/sys_exit_write")
int kcap_exit_write(struct sys_exit_ctx *ctx) { return buf_io(ctx, KCAP_EVT_WRITE, sizeof(struct kcap_evt_write)); }

INLINE int pos_io(struct sys_exit_ctx *ctx, __u16 type, __u32 fixed)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, fixed, 1))
		return 0;
	if (!io_kept(&r, ctx, (__s32)r.s->args[0], 0))
		return 0;
	/* pos (same offset in pread64 and pwrite64) */
	((struct kcap_evt_pread64 *)r.buf)->pos = r.s->args[3];
	/* data */
	add_user(&r, 0, r.s->args[1], snaplen(r.cfg, ctx->ret));
	rec_submit(&r);
	return 0;
}
_Static_assert(__builtin_offsetof(struct kcap_evt_pread64, pos) == __builtin_offsetof(struct kcap_evt_pwrite64, pos), "pos");

SEC("tracepoint/sys_exit_pread64")
int kcap_exit_pread64(struct sys_exit_ctx *ctx) { return pos_io(ctx, KCAP_EVT_PREAD64, sizeof(struct kcap_evt_pread64)); }

SEC("tracepoint/sys_exit_pwrite64")
int kcap_exit_pwrite64(struct sys_exit_ctx *ctx) { return pos_io(ctx, KCAP_EVT_PWRITE64, sizeof(struct kcap_evt_pwrite64)); }

/* readv, writev: (fd, iov, iovcnt) */
INLINE int iov_io(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_readv), 1))
		return 0;
	if (!io_kept(&r, ctx, (__s32)r.s->args[0], 0))
		return 0;
	/* data */
	add_iov(&r, 0, r.s->args[1], r.s->args[2], snaplen(r.cfg, ctx->ret), IOV_MAX_READ);
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_readv")
int kcap_exit_readv(struct sys_exit_ctx *ctx) { return iov_io(ctx, KCAP_EVT_READV); }

SEC("tracepoint/sys_exit_writev")
int kcap_exit_writev(struct sys_exit_ctx *ctx) { return iov_io(ctx, KCAP_EVT_WRITEV); }

/* ---- syscall exit: sockets with addresses ---- */

/* sendto(fd, buf, len, flags, addr, addrlen), recvfrom(fd, buf, len, flags, addr, &addrlen) */
INLINE int addr_io(struct sys_exit_ctx *ctx, __u16 type, int addrlen_is_ptr)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_sendto), 2))
		return 0;
	if (!io_kept(&r, ctx, (__s32)r.s->args[0], (__u32)r.s->args[3]))
		return 0;
	/* data */
	add_user(&r, 0, r.s->args[1], snaplen(r.cfg, ctx->ret));
	/* addr */
	__s64 alen = addrlen_is_ptr ? user_int(r.s->args[5]) : (__s64)r.s->args[5];
	add_sockaddr(&r, 1, r.s->args[4], ctx->ret < 0 ? 0 : alen);
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_sendto")
int kcap_exit_sendto(struct sys_exit_ctx *ctx) { return addr_io(ctx, KCAP_EVT_SENDTO, 0); }

SEC("tracepoint/sys_exit_recvfrom")
int kcap_exit_recvfrom(struct sys_exit_ctx *ctx) { return addr_io(ctx, KCAP_EVT_RECVFROM, 1); }

/* struct user_msghdr as laid out on 64-bit. */
struct umsghdr {
	__u64 name;
	__s32 namelen;
	__u32 pad;
	__u64 iov;
	__u64 iovlen;
	__u64 control;
	__u64 controllen;
	__u32 flags;
	__u32 pad2;
};
#define MMSGHDR_SIZE 64 /* struct mmsghdr: msghdr + unsigned msg_len, padded */

/* Vars data (iovecs, at most `limit` bytes) and addr (msg_name) of one msghdr. */
INLINE void add_msg(struct rec *r, const struct umsghdr *m, __u64 limit, int max_iov)
{
	add_iov(r, 0, m->iov, m->iovlen, limit, max_iov);
	add_sockaddr(r, 1, m->name, m->namelen);
}

/* sendmsg, recvmsg: (fd, msg, flags) */
INLINE int msg_io(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	struct umsghdr m = {};
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_sendmsg), 2))
		return 0;
	if (!io_kept(&r, ctx, (__s32)r.s->args[0], (__u32)r.s->args[2]))
		return 0;
	if (ctx->ret >= 0)
		bpf_probe_read_user(&m, sizeof(m), (const void *)r.s->args[1]);
	/* data, addr */
	add_msg(&r, &m, snaplen(r.cfg, ctx->ret), IOV_MAX_READ);
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_sendmsg")
int kcap_exit_sendmsg(struct sys_exit_ctx *ctx) { return msg_io(ctx, KCAP_EVT_SENDMSG); }

SEC("tracepoint/sys_exit_recvmsg")
int kcap_exit_recvmsg(struct sys_exit_ctx *ctx) { return msg_io(ctx, KCAP_EVT_RECVMSG); }

/* sendmmsg, recvmmsg: (fd, msgvec, vlen, flags[, timeout]); one record per message transferred
 * (the first MMSG_MAX, payload from each message's first MMSG_IOV_MAX iovecs), or one record
 * with the error. */
INLINE int mmsg_io(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_sendmmsg), 2))
		return 0;
	struct kcap_evt_sendmmsg *e = (struct kcap_evt_sendmmsg *)r.buf;
	io_fixed(&r, ctx, (__s32)r.s->args[0], (__u32)r.s->args[3]);
	__u32 count = ctx->ret > 0 ? (__u32)ctx->ret : 0;
	/* msg_count */
	e->msg_count = count;
	__u32 first_var = r.pos;
	for (__u32 i = 0; i < MMSG_MAX; i++) {
		struct { struct umsghdr m; __u32 len; __u32 pad; } mm = {};
		if (i > 0 && i >= count)
			break;
		if (count)
			bpf_probe_read_user(&mm, sizeof(mm), (const void *)(r.s->args[1] + MMSGHDR_SIZE * i));
		/* res: bytes of this message, or the call's error */
		e->res = count ? (__s64)mm.len : ctx->ret;
		/* msg_index */
		e->msg_index = i;
		r.pos = first_var;
		/* data, addr */
		add_msg(&r, &mm.m, snaplen(r.cfg, count ? mm.len : 0), MMSG_IOV_MAX);
		rec_emit(&r);
	}
	*r.depth -= 1;
	return 0;
}
_Static_assert(sizeof(struct kcap_evt_sendmmsg) == sizeof(struct kcap_evt_recvmmsg), "mmsg layouts");

SEC("tracepoint/sys_exit_sendmmsg")
int kcap_exit_sendmmsg(struct sys_exit_ctx *ctx) { return mmsg_io(ctx, KCAP_EVT_SENDMMSG); }

SEC("tracepoint/sys_exit_recvmmsg")
int kcap_exit_recvmmsg(struct sys_exit_ctx *ctx) { return mmsg_io(ctx, KCAP_EVT_RECVMMSG); }

/* sendfile(out_fd, in_fd, offset, count) */
SEC("tracepoint/sys_exit_sendfile64")
int kcap_exit_sendfile(struct sys_exit_ctx *ctx)
{
	struct rec r;
	if (!sys_begin(&r, ctx, KCAP_EVT_SENDFILE, sizeof(struct kcap_evt_sendfile), 0))
		return 0;
	struct kcap_evt_sendfile *e = (struct kcap_evt_sendfile *)r.buf;
	io_fixed(&r, ctx, (__s32)r.s->args[0], 0);
	/* in_fd */
	e->in_fd = (__s32)r.s->args[1];
	e->pad0 = 0;
	rec_submit(&r);
	return 0;
}

/* connect(fd, addr, addrlen), bind(fd, addr, addrlen): they change the tuple, so it is read
 * afresh (and the cache refreshed) */
INLINE int sockaddr_call(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_connect), 1))
		return 0;
	io_fixed_mode(&r, ctx, (__s32)r.s->args[0], 0, TUPLE_FRESH);
	/* addr */
	add_sockaddr(&r, 0, r.s->args[1], (__s64)r.s->args[2]);
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_connect")
int kcap_exit_connect(struct sys_exit_ctx *ctx) { return sockaddr_call(ctx, KCAP_EVT_CONNECT); }

SEC("tracepoint/sys_exit_bind")
int kcap_exit_bind(struct sys_exit_ctx *ctx) { return sockaddr_call(ctx, KCAP_EVT_BIND); }

/* Under a process filter, a traced process that listens on a TCP port (seen at listen, or at
 * accept for a listener older than the recording) takes the TCP events of that port's
 * connections in its network namespace, including those before accept and after close, when no
 * fd holds the socket. */
INLINE void listening_port(struct rec *r, const struct sys_exit_ctx *ctx, __s32 listen_fd)
{
	struct kcap_io *e = (struct kcap_io *)r->buf;
	if (ctx->ret >= 0 && e->t.l4proto == IPPROTO_TCP && e->t.lport && filtered(r->cfg))
		own_port(&r->cfg->off, file_sock(&r->cfg->off, fd_file(&r->cfg->off, listen_fd)));
}

/* accept(fd, addr, &addrlen), accept4(fd, addr, &addrlen, flags) */
INLINE int accept_call(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_accept), 1))
		return 0;
	struct kcap_evt_accept *e = (struct kcap_evt_accept *)r.buf;
	/* fd: the accepted socket (-1 on failure), with its tuple */
	io_fixed(&r, ctx, ctx->ret >= 0 ? (__s32)ctx->ret : -1, 0);
	listening_port(&r, ctx, (__s32)r.s->args[0]);
	/* listen_fd */
	e->listen_fd = (__s32)r.s->args[0];
	e->pad0 = 0;
	/* addr */
	add_sockaddr(&r, 0, r.s->args[1], ctx->ret >= 0 ? user_int(r.s->args[2]) : 0);
	rec_submit(&r);
	return 0;
}
_Static_assert(sizeof(struct kcap_evt_accept) == sizeof(struct kcap_evt_accept4), "accept layouts");

SEC("tracepoint/sys_exit_accept")
int kcap_exit_accept(struct sys_exit_ctx *ctx) { return accept_call(ctx, KCAP_EVT_ACCEPT); }

SEC("tracepoint/sys_exit_accept4")
int kcap_exit_accept4(struct sys_exit_ctx *ctx) { return accept_call(ctx, KCAP_EVT_ACCEPT4); }

/* listen(fd, backlog), shutdown(fd, how): io fields plus one int argument */
INLINE int int_arg_call(struct sys_exit_ctx *ctx, __u16 type)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_listen), 0))
		return 0;
	struct kcap_evt_listen *e = (struct kcap_evt_listen *)r.buf;
	io_fixed(&r, ctx, (__s32)r.s->args[0], 0);
	if (type == KCAP_EVT_LISTEN)
		listening_port(&r, ctx, (__s32)r.s->args[0]);
	/* backlog (listen) / how (shutdown) */
	e->backlog = (__s32)r.s->args[1];
	e->pad0 = 0;
	rec_submit(&r);
	return 0;
}
_Static_assert(__builtin_offsetof(struct kcap_evt_listen, backlog) == __builtin_offsetof(struct kcap_evt_shutdown, how), "int arg");

SEC("tracepoint/sys_exit_listen")
int kcap_exit_listen(struct sys_exit_ctx *ctx) { return int_arg_call(ctx, KCAP_EVT_LISTEN); }

SEC("tracepoint/sys_exit_shutdown")
int kcap_exit_shutdown(struct sys_exit_ctx *ctx) { return int_arg_call(ctx, KCAP_EVT_SHUTDOWN); }

/* close(fd): the tuple was read at enter */
SEC("tracepoint/sys_exit_close")
int kcap_exit_close(struct sys_exit_ctx *ctx)
{
	struct rec r;
	if (!sys_begin(&r, ctx, KCAP_EVT_CLOSE, sizeof(struct kcap_evt_close), 0))
		return 0;
	struct kcap_io *e = (struct kcap_io *)r.buf;
	e->res = ctx->ret;
	e->latency = e->hdr.ts - r.s->ts;
	e->fd = (__s32)r.s->args[0];
	e->flags = 0;
	__builtin_memcpy(&e->t, &r.s->t, sizeof(e->t));
	rec_submit(&r);
	return 0;
}

/* socket(domain, type, protocol) */
SEC("tracepoint/sys_exit_socket")
int kcap_exit_socket(struct sys_exit_ctx *ctx)
{
	struct rec r;
	if (!sys_begin(&r, ctx, KCAP_EVT_SOCKET, sizeof(struct kcap_evt_socket), 0))
		return 0;
	struct kcap_evt_socket *e = (struct kcap_evt_socket *)r.buf;
	res_fixed(&r, ctx);
	/* domain, socktype, protocol */
	e->domain = (__s32)r.s->args[0];
	e->socktype = (__s32)r.s->args[1];
	e->protocol = (__s32)r.s->args[2];
	e->pad0 = 0;
	rec_submit(&r);
	return 0;
}

/* socketpair(domain, type, protocol, sv[2]) */
SEC("tracepoint/sys_exit_socketpair")
int kcap_exit_socketpair(struct sys_exit_ctx *ctx)
{
	struct rec r;
	if (!sys_begin(&r, ctx, KCAP_EVT_SOCKETPAIR, sizeof(struct kcap_evt_socketpair), 0))
		return 0;
	struct kcap_evt_socketpair *e = (struct kcap_evt_socketpair *)r.buf;
	res_fixed(&r, ctx);
	/* domain, socktype, protocol */
	e->domain = (__s32)r.s->args[0];
	e->socktype = (__s32)r.s->args[1];
	e->protocol = (__s32)r.s->args[2];
	/* fd0, fd1 */
	__s32 sv[2] = { -1, -1 };
	if (ctx->ret == 0)
		bpf_probe_read_user(sv, sizeof(sv), (const void *)r.s->args[3]);
	e->fd0 = sv[0];
	e->fd1 = sv[1];
	e->pad0 = 0;
	rec_submit(&r);
	return 0;
}

/* dup(oldfd), dup2(oldfd, newfd), dup3(oldfd, newfd, flags), fcntl(fd, F_DUPFD*, arg) */
INLINE int dup_call(struct sys_exit_ctx *ctx, __u16 type, __u32 flags)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_dup), 0))
		return 0;
	struct kcap_evt_dup *e = (struct kcap_evt_dup *)r.buf;
	res_fixed(&r, ctx);
	/* oldfd */
	e->oldfd = (__s32)r.s->args[0];
	/* flags */
	e->flags = flags;
	rec_submit(&r);
	return 0;
}

SEC("tracepoint/sys_exit_dup")
int kcap_exit_dup(struct sys_exit_ctx *ctx) { return dup_call(ctx, KCAP_EVT_DUP, 0); }

SEC("tracepoint/sys_exit_dup2")
int kcap_exit_dup2(struct sys_exit_ctx *ctx) { return dup_call(ctx, KCAP_EVT_DUP2, 0); }

SEC("tracepoint/sys_exit_dup3")
int kcap_exit_dup3(struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&kcap_stash, &tid);
	return dup_call(ctx, KCAP_EVT_DUP3, s ? (__u32)s->args[2] : 0);
}

SEC("tracepoint/sys_exit_fcntl")
int kcap_exit_fcntl(struct sys_exit_ctx *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *s = bpf_map_lookup_elem(&kcap_stash, &tid);
	if (!s || (s->args[1] != F_DUPFD && s->args[1] != F_DUPFD_CLOEXEC))
		return 0;
	return dup_call(ctx, KCAP_EVT_FCNTL_DUPFD, (__u32)s->args[1]);
}

/* open(path, flags, mode), openat(dirfd, path, flags, mode), openat2(dirfd, path, how, size) */
INLINE int open_call(struct sys_exit_ctx *ctx, __u16 type, __s32 dirfd, __u64 path, __u32 flags, __u32 mode)
{
	struct rec r;
	if (!sys_begin(&r, ctx, type, sizeof(struct kcap_evt_open), 1))
		return 0;
	struct kcap_evt_open *e = (struct kcap_evt_open *)r.buf;
	res_fixed(&r, ctx);
	/* dirfd, flags, mode */
	e->dirfd = dirfd;
	e->flags = flags;
	e->mode = mode;
	e->pad0 = 0;
	/* path */
	add_str(&r, 0, path, PATH_MAX_READ, 1);
	rec_submit(&r);
	return 0;
}

INLINE struct stash *peek_stash(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	return bpf_map_lookup_elem(&kcap_stash, &tid);
}

SEC("tracepoint/sys_exit_open")
int kcap_exit_open(struct sys_exit_ctx *ctx)
{
	struct stash *s = peek_stash();
	if (!s)
		return 0;
	return open_call(ctx, KCAP_EVT_OPEN, AT_FDCWD, s->args[0], s->args[1], s->args[2]);
}

SEC("tracepoint/sys_exit_openat")
int kcap_exit_openat(struct sys_exit_ctx *ctx)
{
	struct stash *s = peek_stash();
	if (!s)
		return 0;
	return open_call(ctx, KCAP_EVT_OPENAT, (__s32)s->args[0], s->args[1], s->args[2], s->args[3]);
}

SEC("tracepoint/sys_exit_openat2")
int kcap_exit_openat2(struct sys_exit_ctx *ctx)
{
	struct stash *s = peek_stash();
	if (!s)
		return 0;
	struct { __u64 flags; __u64 mode; __u64 resolve; } how = {};
	bpf_probe_read_user(&how, sizeof(how), (const void *)s->args[2]);
	return open_call(ctx, KCAP_EVT_OPENAT2, (__s32)s->args[0], s->args[1], how.flags, how.mode);
}

/* ---- processes (raw tracepoints: args are the TP_PROTO arguments) ---- */

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int kcap_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct kcap_config *cfg = config();
	if (!cfg || !traced(cfg, bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u64 child = ctx->args[1];
	__u32 child_pid = rd_u32(child + cfg->off.task_tgid);
	if (cfg->filter_mode == KCAP_FILTER_PIDS && cfg->follow_children) {
		__u8 one = 1;
		bpf_map_update_elem(&kcap_pids, &child_pid, &one, BPF_ANY);
	}
	struct rec r;
	if (!rec_begin(&r, cfg, KCAP_EVT_FORK, sizeof(struct kcap_evt_fork), 1))
		return 0;
	struct kcap_evt_fork *e = (struct kcap_evt_fork *)r.buf;
	/* child_pid, child_tid */
	e->child_pid = child_pid;
	e->child_tid = rd_u32(child + cfg->off.task_pid);
	/* child_comm */
	add_str(&r, 0, child + cfg->off.task_comm, 16, 0);
	rec_submit(&r);
	return 0;
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
SEC("raw_tracepoint/sched_process_exec")
int kcap_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct kcap_config *cfg = config();
	if (!cfg || !traced(cfg, bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct rec r;
	if (!rec_begin(&r, cfg, KCAP_EVT_EXEC, sizeof(struct kcap_evt_exec), 3))
		return 0;
	struct kcap_evt_exec *e = (struct kcap_evt_exec *)r.buf;
	__u64 task = ctx->args[0];
	/* old_tid */
	e->old_tid = (__u32)ctx->args[1];
	e->pad0 = 0;
	/* filename */
	add_str(&r, 0, rd_u64(ctx->args[2] + cfg->off.bprm_filename), PATH_MAX_READ, 0);
	/* comm */
	add_str(&r, 1, task + cfg->off.task_comm, 16, 0);
	/* args */
	__u64 mm = rd_u64(task + cfg->off.task_mm);
	__u64 start = rd_u64(mm + cfg->off.mm_arg_start);
	__u64 len = rd_u64(mm + cfg->off.mm_arg_end) - start;
	__u32 max = cfg->args_max < KCAP_ARGS_MAX ? cfg->args_max : KCAP_ARGS_MAX;
	add_user(&r, 2, start, len < max ? len : max);
	rec_submit(&r);
	return 0;
}

/* sched_process_exit(struct task_struct *p, bool group_dead) */
SEC("raw_tracepoint/sched_process_exit")
int kcap_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	bpf_map_delete_elem(&kcap_stash, &tid);
	struct kcap_config *cfg = config();
	if (!cfg || !traced(cfg, tgid))
		return 0;
	struct rec r;
	if (rec_begin(&r, cfg, KCAP_EVT_EXIT, sizeof(struct kcap_evt_exit), 0)) {
		struct kcap_evt_exit *e = (struct kcap_evt_exit *)r.buf;
		/* exit_code, group_dead */
		e->exit_code = rd_u32(ctx->args[0] + cfg->off.task_exit_code);
		e->group_dead = ctx->args[1] & 1;
		rec_submit(&r);
	}
	if ((ctx->args[1] & 1) && cfg->filter_mode == KCAP_FILTER_PIDS)
		bpf_map_delete_elem(&kcap_pids, &tgid); /* the pid may be reused by an unrelated process */
	return 0;
}

/* ---- TCP (raw tracepoints, first argument the struct sock). They describe sockets and often
 * run in softirq on behalf of whichever task was interrupted, so the current task says nothing
 * about whose socket it is: under a process filter, events follow the sockets of traced processes
 * instead (tcp_traced). ---- */

#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_LISTEN 10

INLINE struct kcap_config *tcp_config(void)
{
	struct kcap_config *cfg = config();
	if (!cfg || bpf_get_current_pid_tgid() >> 32 == cfg->self_pid || cfg->filter_mode == KCAP_FILTER_OFF)
		return 0;
	return cfg;
}

/* Whether TCP events of sk are kept: every socket without a process filter; under one, the
 * sockets traced processes used (kcap_socks, marked as their syscalls read them and when they
 * start connecting) and the connections on ports they listen on (kcap_lports). An event with no
 * socket (a reset the kernel sends for a refused connection) belongs to no process: kept. */
INLINE int tcp_traced(const struct kcap_config *cfg, __u64 sk)
{
	if (!sk || !filtered(cfg) || bpf_map_lookup_elem(&kcap_socks, &sk))
		return 1;
	struct lport_key k = lport_of(&cfg->off, sk);
	return bpf_map_lookup_elem(&kcap_lports, &k) != 0;
}

_Static_assert(__builtin_offsetof(struct kcap_evt_tcp_retransmit, ino) == 24, "tuple after header");

INLINE int tcp_state_event(struct bpf_raw_tracepoint_args *ctx, __u16 type)
{
	struct kcap_config *cfg = tcp_config();
	__u64 sk = ctx->args[0];
	struct rec r;
	if (!cfg || !tcp_traced(cfg, sk) || !rec_begin(&r, cfg, type, sizeof(struct kcap_evt_tcp_retransmit), 0))
		return 0;
	struct kcap_evt_tcp_retransmit *e = (struct kcap_evt_tcp_retransmit *)r.buf;
	/* tuple: of the socket, or for a reset sent on behalf of no socket (a refused connection),
	 * of the segment that caused it (args[1]); ino stays 0 then */
	if (sk || type != KCAP_EVT_TCP_SEND_RESET)
		sock_tuple(&cfg->off, sk, (struct kcap_tuple *)&e->ino);
	else
		skb_tuple(&cfg->off, ctx->args[1], (struct kcap_tuple *)&e->ino);
	/* state */
	__u8 state = 0;
	if (sk)
		bpf_probe_read_kernel(&state, 1, (const void *)(sk + cfg->off.sk_state));
	e->state = state;
	e->pad0 = 0;
	rec_submit(&r);
	return 0;
}

SEC("raw_tracepoint/tcp_retransmit_skb")
int kcap_tcp_retransmit(struct bpf_raw_tracepoint_args *ctx) { return tcp_state_event(ctx, KCAP_EVT_TCP_RETRANSMIT); }

SEC("raw_tracepoint/tcp_send_reset")
int kcap_tcp_send_reset(struct bpf_raw_tracepoint_args *ctx) { return tcp_state_event(ctx, KCAP_EVT_TCP_SEND_RESET); }

SEC("raw_tracepoint/tcp_receive_reset")
int kcap_tcp_receive_reset(struct bpf_raw_tracepoint_args *ctx) { return tcp_state_event(ctx, KCAP_EVT_TCP_RECEIVE_RESET); }

INLINE struct probe_set *probe_set(__u64 sk)
{
	_Static_assert(PROBE_SETS == 1 << 12, "the set index takes the hash's top 12 bits");
	__u32 idx = (sk * 0x9e3779b97f4a7c15ULL) >> 52;
	return bpf_map_lookup_elem(&kcap_probe_last, &idx);
}

/* Whether this socket's tcp_probe is due, for a socket whose events are kept: tcp_probe fires
 * for every segment, which would double the event rate of a busy connection for a value (the
 * RTT) that changes slowly. The socket's way is looked at before the process filter's maps:
 * nearly every segment of a recorded socket stops there. A due record is stamped with the
 * limit's own clock reading (*now), so records of a socket are never less than an interval apart. */
INLINE int probe_due(const struct kcap_config *cfg, __u64 sk, __u64 *now_out)
{
	__u64 interval = cfg->tcp_probe_interval_ns;
	struct probe_set *set = interval ? probe_set(sk) : 0;
	if (!set)
		return tcp_traced(cfg, sk);
	struct probe_way *w0 = &set->way[0], *w1 = &set->way[1];
	struct probe_way *own = w0->sk == sk ? w0 : w1->sk == sk ? w1 : 0;
	/* Only recorded sockets hold a way: one without is looked up in the filter, with no clock read. */
	if (!own && !tcp_traced(cfg, sk))
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	if (own && now - own->last < interval)
		return 0;
	/* Its own way, else one whose last record is an interval old (or that was never used). */
	struct probe_way *w = own ? own : now - w0->last >= interval ? w0 : now - w1->last >= interval ? w1 : 0;
	if (!w)
		return 0;
	w->sk = sk;
	w->last = now;
	*now_out = now;
	return 1;
}

/* A closed socket's memory soon becomes another socket, which must inherit neither its mark as
 * a traced process's nor its tcp_probe way; a closed listener's port is free for another process. */
INLINE void forget_socket(const struct kcap_config *cfg, __u64 sk, __u32 oldstate)
{
	if (filtered(cfg)) {
		bpf_map_delete_elem(&kcap_socks, &sk);
		if (oldstate == TCP_LISTEN)
			forget_port(&cfg->off, sk);
	}
	struct probe_set *set = probe_set(sk);
	if (!set)
		return;
	for (int i = 0; i < 2; i++) {
		if (set->way[i].sk == sk) {
			set->way[i].sk = 0;
			set->way[i].last = 0;
		}
	}
}

/* inet_sock_set_state(const struct sock *sk, int oldstate, int newstate) */
SEC("raw_tracepoint/inet_sock_set_state")
int kcap_sock_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	struct kcap_config *cfg = tcp_config();
	__u64 sk = ctx->args[0];
	__u32 newstate = (__u32)ctx->args[2];
	if (!cfg)
		return 0;
	/* A connect starts in its caller's context: the one moment a client socket's owner is known
	 * before the syscall's exit reads it. */
	if (newstate == TCP_SYN_SENT && filtered(cfg) && traced(cfg, bpf_get_current_pid_tgid() >> 32))
		own_socket(sk);
	int keep = tcp_traced(cfg, sk);
	if (newstate == TCP_CLOSE)
		forget_socket(cfg, sk, (__u32)ctx->args[1]);
	struct rec r;
	if (!keep || !rec_begin(&r, cfg, KCAP_EVT_SOCK_SET_STATE, sizeof(struct kcap_evt_sock_set_state), 0))
		return 0;
	struct kcap_evt_sock_set_state *e = (struct kcap_evt_sock_set_state *)r.buf;
	/* tuple */
	sock_tuple(&cfg->off, sk, (struct kcap_tuple *)&e->ino);
	/* oldstate, newstate */
	e->oldstate = (__u32)ctx->args[1];
	e->newstate = newstate;
	rec_submit(&r);
	return 0;
}

/* tcp_probe(struct sock *sk, struct sk_buff *skb), at most once per socket per interval */
SEC("raw_tracepoint/tcp_probe")
int kcap_tcp_probe(struct bpf_raw_tracepoint_args *ctx)
{
	struct kcap_config *cfg = tcp_config();
	__u64 sk = ctx->args[0];
	__u64 now = 0;
	struct rec r;
	if (!cfg || !probe_due(cfg, sk, &now) ||
	    !rec_begin(&r, cfg, KCAP_EVT_TCP_PROBE, sizeof(struct kcap_evt_tcp_probe), 0))
		return 0;
	struct kcap_evt_tcp_probe *e = (struct kcap_evt_tcp_probe *)r.buf;
	if (now)
		e->hdr.ts = now;
	/* tuple */
	sock_tuple(&cfg->off, sk, (struct kcap_tuple *)&e->ino);
	/* srtt_us (the kernel keeps it shifted left by 3), snd_cwnd, snd_wnd, rcv_wnd */
	e->srtt_us = rd_u32(sk + cfg->off.tcp_srtt_us) >> 3;
	e->snd_cwnd = rd_u32(sk + cfg->off.tcp_snd_cwnd);
	e->snd_wnd = rd_u32(sk + cfg->off.tcp_snd_wnd);
	e->rcv_wnd = rd_u32(sk + cfg->off.tcp_rcv_wnd);
	rec_submit(&r);
	return 0;
}
