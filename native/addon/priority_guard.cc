// The recorder's yielding priority: see priority_guard.h.
#include "priority_guard.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace kcap {

PriorityGuard::PriorityGuard(std::function<size_t()> pending, YieldPolicy policy)
    : pending_(std::move(pending)), policy_(policy), base_nice_(getpriority(PRIO_PROCESS, 0)) {
  // Started last: run() reads every member above.
  thread_ = std::thread([this] { run(); });
}

PriorityGuard::~PriorityGuard() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PriorityGuard::run() {
  guard_tid_ = gettid();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    const size_t pending = pending_();
    if (!yielding_ && pending < policy_.yield_below) {
      set_all(policy_.low_nice);
      yielding_ = true;
    } else if (yielding_ && pending > policy_.boost_above) {
      set_all(base_nice_);
      yielding_ = false;
    }
    wake_.wait_for(lock, std::chrono::milliseconds(policy_.interval_ms), [this] { return stop_; });
  }
  if (yielding_) set_all(base_nice_);
  yielding_ = false;
}

void PriorityGuard::set_all(int nice) const {
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return;
  while (const dirent* e = readdir(tasks)) {
    const pid_t tid = static_cast<pid_t>(atoi(e->d_name));
    // A thread that has exited since the listing fails with ESRCH: nothing to set.
    if (tid > 0 && tid != guard_tid_) setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice);
  }
  closedir(tasks);
}

}  // namespace kcap
