/*
 * Run-time configuration of the kcap BPF programs: one entry of the "kcap_cfg" array map, written
 * by the loader before any program is attached. It carries the filter and snaplen and, above all,
 * the kernel struct offsets the programs read through: user space takes them from the running
 * kernel's BTF (src/record/bpf/config.ts), so one object works on every kernel with no headers.
 *
 * KCAP_OFFSETS is the single list of offsets: the struct below and the TypeScript encoder (which
 * parses the X(...) lines of this file) are both derived from it. Append only.
 */
#ifndef KCAP_CONFIG_H
#define KCAP_CONFIG_H

#include <linux/types.h>

/* X(field, "kernel struct", "member path as in BTF, anonymous members skipped") */
#define KCAP_OFFSETS(X) \
	X(task_files, "task_struct", "files") \
	X(task_tgid, "task_struct", "tgid") \
	X(task_pid, "task_struct", "pid") \
	X(task_comm, "task_struct", "comm") \
	X(task_exit_code, "task_struct", "exit_code") \
	X(task_mm, "task_struct", "mm") \
	X(files_fdt, "files_struct", "fdt") \
	X(fdt_max_fds, "fdtable", "max_fds") \
	X(fdt_fd, "fdtable", "fd") \
	X(file_inode, "file", "f_inode") \
	X(file_private_data, "file", "private_data") \
	X(inode_mode, "inode", "i_mode") \
	X(inode_ino, "inode", "i_ino") \
	X(socket_type, "socket", "type") \
	X(socket_sk, "socket", "sk") \
	X(socket_alloc_inode, "socket_alloc", "vfs_inode") \
	X(sk_family, "sock", "__sk_common.skc_family") \
	X(sk_state, "sock", "__sk_common.skc_state") \
	X(sk_num, "sock", "__sk_common.skc_num") \
	X(sk_dport, "sock", "__sk_common.skc_dport") \
	X(sk_rcv_saddr, "sock", "__sk_common.skc_rcv_saddr") \
	X(sk_daddr, "sock", "__sk_common.skc_daddr") \
	X(sk_v6_rcv_saddr, "sock", "__sk_common.skc_v6_rcv_saddr") \
	X(sk_v6_daddr, "sock", "__sk_common.skc_v6_daddr") \
	X(sk_protocol, "sock", "sk_protocol") \
	X(sk_type, "sock", "sk_type") \
	X(sk_socket, "sock", "sk_socket") \
	X(mm_arg_start, "mm_struct", "arg_start") \
	X(mm_arg_end, "mm_struct", "arg_end") \
	X(bprm_filename, "linux_binprm", "filename") \
	X(tcp_srtt_us, "tcp_sock", "srtt_us") \
	X(tcp_snd_cwnd, "tcp_sock", "snd_cwnd") \
	X(tcp_snd_wnd, "tcp_sock", "snd_wnd") \
	X(tcp_rcv_wnd, "tcp_sock", "rcv_wnd") \
	X(skb_head, "sk_buff", "head") \
	X(skb_network_header, "sk_buff", "network_header") \
	X(skb_transport_header, "sk_buff", "transport_header") \
	X(sk_net, "sock", "__sk_common.skc_net.net") \
	X(net_ns_inum, "net", "ns.inum")

struct kcap_offsets {
#define KCAP_OFFSET_FIELD(name, s, m) __u32 name;
	KCAP_OFFSETS(KCAP_OFFSET_FIELD)
#undef KCAP_OFFSET_FIELD
};

enum kcap_filter_mode {
	KCAP_FILTER_ALL = 0,  /* every process but the recorder */
	KCAP_FILTER_PIDS = 1, /* tgids in the kcap_pids map */
	KCAP_FILTER_COMM = 2, /* processes whose comm equals config.comm */
	KCAP_FILTER_OFF = 3,  /* nothing: set while the programs are being detached */
};

/* What every I/O event the record filter may select has, derived from the filter in user space
 * (src/filter/pushdown.ts). The data calls drop an event that lacks it before copying its payload;
 * the filter itself still decides in user space, so this only saves work on certain rejects. */
#define KCAP_KEEP_SOCKETS 1 /* the fd is a socket */
#define KCAP_KEEP_PORTS 2   /* a TCP connection has an end's port in io_ports (other sockets pass) */
#define KCAP_IO_PORTS 8

/* Byte layout mirrored by encodeConfig() in src/record/bpf/config.ts. */
struct kcap_config {
	__u32 snaplen;          /* @0 payload bytes kept per I/O event, <= KCAP_SNAP_MAX */
	__u32 self_pid;         /* @4 the recorder's tgid, never traced */
	__u32 filter_mode;      /* @8 enum kcap_filter_mode */
	__u32 follow_children;  /* @12 1: fork adds the child of a traced tgid to kcap_pids */
	__u64 wakeup_bytes;     /* @16 force a consumer wakeup once this much data is pending (0: never) */
	char comm[16];          /* @24 KCAP_FILTER_COMM: NUL-padded comm */
	__u32 args_max;         /* @40 bytes of argv kept per exec, <= KCAP_ARGS_MAX */
	__u32 n_offsets;        /* @44 number of __u32 in off, a guard against a stale encoder */
	__u64 tcp_probe_interval_ns; /* @48 at most one tcp_probe per socket per interval (0: every segment) */
	__u32 io_keep;          /* @56 KCAP_KEEP_* bits: what the record filter's I/O events need (0: anything) */
	__u16 io_ports[KCAP_IO_PORTS]; /* @60 with KCAP_KEEP_PORTS; 0 is an empty slot */
	struct kcap_offsets off; /* @76 */
};

#define KCAP_SNAP_MAX 65536
#define KCAP_ARGS_MAX 4096

#endif /* KCAP_CONFIG_H */
