// bpf(2) and perf_event_open(2) wrappers: see bpf_sys.h.
#include "bpf_sys.h"

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace kcap {

namespace {

long sys_bpf(int cmd, bpf_attr* attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

// The verifier gives up with EAGAIN whenever a signal is pending for this thread (a profiler's
// SIGPROF arrives every millisecond, long before a large program is verified), so signals wait
// while a program loads.
long prog_load_signals_held(bpf_attr* attr) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  long fd = sys_bpf(BPF_PROG_LOAD, attr);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return fd;
}

uint64_t ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Kernel object names: at most BPF_OBJ_NAME_LEN - 1 characters of [A-Za-z0-9_.].
void set_name(char* dst, const std::string& name) {
  size_t n = 0;
  for (char c : name) {
    if (n == BPF_OBJ_NAME_LEN - 1) break;
    dst[n++] = (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') ? c : '_';
  }
  dst[n] = 0;
}

}  // namespace

SysError::SysError(const std::string& op_, int err_, const std::string& detail)
    : std::runtime_error(op_ + ": " + strerror(err_) + (detail.empty() ? "" : "\n" + detail)), err(err_), op(op_) {}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

void Fd::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Fd map_create(const MapSpec& spec, int inner_map_fd) {
  bpf_attr attr{};
  if (inner_map_fd >= 0) attr.inner_map_fd = static_cast<uint32_t>(inner_map_fd);
  attr.map_type = spec.type;
  attr.key_size = spec.key_size;
  attr.value_size = spec.value_size;
  attr.max_entries = spec.max_entries;
  attr.map_flags = spec.flags;
  set_name(attr.map_name, spec.name);
  long fd = sys_bpf(BPF_MAP_CREATE, &attr);
  if (fd < 0) throw SysError("BPF_MAP_CREATE " + spec.name, errno);
  return Fd(static_cast<int>(fd));
}

void map_update(int fd, const void* key, const void* value, uint64_t flags) {
  bpf_attr attr{};
  attr.map_fd = fd;
  attr.key = ptr(key);
  attr.value = ptr(value);
  attr.flags = flags;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) throw SysError("BPF_MAP_UPDATE_ELEM", errno);
}

bool map_lookup(int fd, const void* key, void* value) {
  bpf_attr attr{};
  attr.map_fd = fd;
  attr.key = ptr(key);
  attr.value = ptr(value);
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0) return true;
  if (errno == ENOENT) return false;
  throw SysError("BPF_MAP_LOOKUP_ELEM", errno);
}

bool map_delete(int fd, const void* key) {
  bpf_attr attr{};
  attr.map_fd = fd;
  attr.key = ptr(key);
  if (sys_bpf(BPF_MAP_DELETE_ELEM, &attr) == 0) return true;
  if (errno == ENOENT) return false;
  throw SysError("BPF_MAP_DELETE_ELEM", errno);
}

Fd prog_load(uint32_t type, const std::string& name, const std::vector<uint64_t>& insns, const std::string& license) {
  bpf_attr attr{};
  attr.prog_type = type;
  attr.insns = ptr(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = ptr(license.c_str());
  set_name(attr.prog_name, name);
  long fd = prog_load_signals_held(&attr);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  int first = errno;
  // Load again with the verifier log on, only to explain the failure.
  std::vector<char> log(4 << 20);
  attr.log_level = 1;
  attr.log_buf = ptr(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  fd = prog_load_signals_held(&attr);
  if (fd >= 0) return Fd(static_cast<int>(fd));
  std::string text(log.data(), strnlen(log.data(), log.size()));
  if (text.size() > 3000) text = "...\n" + text.substr(text.size() - 3000);
  throw SysError("BPF_PROG_LOAD " + name, first, text);
}

Fd attach_tracepoint(int prog_fd, uint64_t tracepoint_id) {
  perf_event_attr pa{};
  pa.type = PERF_TYPE_TRACEPOINT;
  pa.size = sizeof(pa);
  pa.config = tracepoint_id;
  pa.sample_period = 1;
  pa.wakeup_events = 1;
  // One event on CPU 0 is enough: a BPF program on a tracepoint runs on every CPU.
  long pfd = syscall(__NR_perf_event_open, &pa, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) throw SysError("perf_event_open(tracepoint " + std::to_string(tracepoint_id) + ")", errno);
  Fd fd(static_cast<int>(pfd));
  if (ioctl(fd.get(), PERF_EVENT_IOC_SET_BPF, prog_fd) < 0) throw SysError("PERF_EVENT_IOC_SET_BPF", errno);
  if (ioctl(fd.get(), PERF_EVENT_IOC_ENABLE, 0) < 0) throw SysError("PERF_EVENT_IOC_ENABLE", errno);
  return fd;
}

Fd attach_raw_tracepoint(int prog_fd, const std::string& name) {
  bpf_attr attr{};
  attr.raw_tracepoint.name = ptr(name.c_str());
  attr.raw_tracepoint.prog_fd = static_cast<uint32_t>(prog_fd);
  long fd = sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr);
  if (fd < 0) throw SysError("BPF_RAW_TRACEPOINT_OPEN " + name, errno);
  return Fd(static_cast<int>(fd));
}

std::vector<LoadedProgram> loaded_programs() {
  std::vector<LoadedProgram> progs;
  uint32_t id = 0;
  for (;;) {
    bpf_attr attr{};
    attr.start_id = id;
    if (sys_bpf(BPF_PROG_GET_NEXT_ID, &attr) < 0) {
      if (errno == ENOENT) break;
      throw SysError("BPF_PROG_GET_NEXT_ID", errno);
    }
    id = attr.next_id;
    bpf_attr get{};
    get.prog_id = id;
    long fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (fd < 0) continue;  // unloaded meanwhile
    Fd prog(static_cast<int>(fd));
    bpf_prog_info info{};
    bpf_attr q{};
    q.info.bpf_fd = static_cast<uint32_t>(prog.get());
    q.info.info_len = sizeof(info);
    q.info.info = ptr(&info);
    if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &q) == 0) progs.push_back({id, info.name, info.run_time_ns, info.run_cnt});
  }
  return progs;
}

}  // namespace kcap
