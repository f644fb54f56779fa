// Thin C++ wrappers over the bpf(2) and perf_event_open(2) calls kcap needs, each turning a
// failure into a SysError that names the operation and carries errno (the addon converts it into
// a JS error with errno text). No libbpf: only glibc and the kernel UAPI headers.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace kcap {

class SysError : public std::runtime_error {
 public:
  SysError(const std::string& op, int err, const std::string& detail = "");
  int err;
  std::string op;
};

// A file descriptor closed on destruction; movable, not copyable.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  void reset();

 private:
  int fd_ = -1;
};

struct MapSpec {
  std::string name;
  uint32_t type, key_size, value_size, max_entries, flags;
};

// inner_map_fd: for a map of maps, a map shaped like its entries.
Fd map_create(const MapSpec& spec, int inner_map_fd = -1);
void map_update(int fd, const void* key, const void* value, uint64_t flags);
// False when the key is absent.
bool map_lookup(int fd, const void* key, void* value);
// False when the key is absent.
bool map_delete(int fd, const void* key);

// Loads a program; on failure the SysError detail holds the tail of the verifier log.
Fd prog_load(uint32_t type, const std::string& name, const std::vector<uint64_t>& insns, const std::string& license);

// Attaches a tracepoint program to the tracepoint with this tracefs id (perf_event_open +
// PERF_EVENT_IOC_SET_BPF). The returned perf fd keeps it attached.
Fd attach_tracepoint(int prog_fd, uint64_t tracepoint_id);
// Attaches a raw tracepoint program (BPF_RAW_TRACEPOINT_OPEN).
Fd attach_raw_tracepoint(int prog_fd, const std::string& name);

struct LoadedProgram {
  uint32_t id;
  std::string name;
  uint64_t run_time_ns;  // totals while kernel.bpf_stats_enabled = 1
  uint64_t run_cnt;
};
// Every BPF program loaded in the system (for leak checks).
std::vector<LoadedProgram> loaded_programs();

}  // namespace kcap
