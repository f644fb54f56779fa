// The recorder yields the CPU to what it traces: every thread of the process runs at the lowest
// priority while the rings have room, and at its starting priority once one fills past a
// threshold, so that on a saturated host it catches up instead of losing events.
//
// The decision runs on a thread of its own that is never lowered. The recorder's own threads
// cannot make it: starved at nice 19 on a saturated host, they get no CPU for hundreds of
// milliseconds, long enough for a 4 MiB ring to overflow before they see it filling. This thread
// only wakes every few milliseconds to read the rings' positions.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace kcap {

struct YieldPolicy {
  size_t boost_above;  // pending bytes (fullest ring) past which the starting priority comes back
  size_t yield_below;  // pending bytes under which the process yields again
  int low_nice;        // the yielding priority
  int interval_ms;     // how often the rings are looked at
};

class PriorityGuard {
 public:
  // Starts yielding at once (the rings are empty); pending() must be safe to call from any thread.
  PriorityGuard(std::function<size_t()> pending, YieldPolicy policy);
  // Stops the guard and gives every thread its starting priority back.
  ~PriorityGuard();
  PriorityGuard(const PriorityGuard&) = delete;
  PriorityGuard& operator=(const PriorityGuard&) = delete;

  bool yielding() const { return yielding_.load(); }

 private:
  void run();
  // Sets the nice value of every thread of the process but the guard's (nice is per thread).
  void set_all(int nice) const;

  std::function<size_t()> pending_;
  YieldPolicy policy_;
  int base_nice_;
  std::atomic<pid_t> guard_tid_{0};
  std::atomic<bool> yielding_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace kcap
