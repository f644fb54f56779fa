/*
 * What the kcap BPF programs need from the BPF runtime, declared by hand so the build needs only
 * clang and the kernel UAPI headers (no libbpf): helper prototypes by their UAPI ids, the map
 * definition format the kcap loader (native/addon/loader.cc) reads, and section markers.
 */
#ifndef KCAP_BPF_H
#define KCAP_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define INLINE static inline __attribute__((always_inline))

/* Map definitions live in the "maps" section as an array of this struct; the loader creates one
 * map per symbol and patches the ld_imm64 instructions that reference it. */
struct kcap_map_def {
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries; /* 0: the loader must size it (ring bytes, CPU count) */
	__u32 map_flags;
};
#define KCAP_MAP(name, t, k, v, n, f) \
	struct kcap_map_def name SEC("maps") = { .type = (t), .key_size = (k), .value_size = (v), .max_entries = (n), .map_flags = (f) }

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_delete_elem;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_user;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_kernel;
static long (*bpf_probe_read_user_str)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_user_str;
static long (*bpf_probe_read_kernel_str)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_kernel_str;
static __u64 (*bpf_ktime_get_boot_ns)(void) = (void *)BPF_FUNC_ktime_get_boot_ns;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)BPF_FUNC_get_current_pid_tgid;
static long (*bpf_get_current_comm)(void *buf, __u32 size) = (void *)BPF_FUNC_get_current_comm;
static __u64 (*bpf_get_current_task)(void) = (void *)BPF_FUNC_get_current_task;
static __u32 (*bpf_get_smp_processor_id)(void) = (void *)BPF_FUNC_get_smp_processor_id;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size, __u64 flags) = (void *)BPF_FUNC_ringbuf_output;
static __u64 (*bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)BPF_FUNC_ringbuf_query;

#endif /* KCAP_BPF_H */
