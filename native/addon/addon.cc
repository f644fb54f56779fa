// The kcap native addon (node-addon-api): loads the kcap BPF object, creates its maps, loads and
// attaches programs on request, and drains the ring buffers in batches straight into the caller's
// buffer, so JavaScript never runs per event. Everything the kernel refuses becomes a JS Error carrying
// errno, its name (code) and the failing operation (syscall); nothing here aborts the process.
//
// Attachments and maps are file descriptors: closing them (close(), or the kernel when the process
// exits or dies of any signal) detaches every program.
#include <napi.h>

#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <thread>

#include "bpf_sys.h"
#include "elf_object.h"
#include "priority_guard.h"
#include "ring_reader.h"

namespace {

using kcap::Fd;

Napi::Error to_js(Napi::Env env, const kcap::SysError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  const char* code = strerrorname_np(e.err);
  err.Set("errno", Napi::Number::New(env, e.err));
  err.Set("code", Napi::String::New(env, code ? code : "EUNKNOWN"));
  err.Set("syscall", Napi::String::New(env, e.op));
  return err;
}

// Runs fn, converting kcap's C++ errors into pending JS exceptions.
template <typename F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const kcap::SysError& e) {
    to_js(env, e).ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, "EKCAPNATIVE"));
    err.ThrowAsJavaScriptException();
  }
  return decltype(fn())();
}

// Closes attachment fds off the JS thread, in parallel: each detach of a tracepoint waits for an
// RCU grace period in the kernel (tens of ms, 2 s for all of them even in parallel). Callers stop
// the programs from emitting first (config filter "off"), so nothing is recorded meanwhile.
void close_on_threads(std::vector<Fd> links, std::map<std::string, Fd> progs, std::vector<Fd> maps) {
  std::vector<int> link_fds;
  for (auto& fd : links) link_fds.push_back(fd.release());
  auto owned = std::make_shared<std::pair<std::map<std::string, Fd>, std::vector<Fd>>>(std::move(progs), std::move(maps));
  std::thread([link_fds, owned] {
    std::vector<std::thread> closers;
    for (int f : link_fds) closers.emplace_back([f] { Fd closing(f); });
    for (auto& t : closers) t.join();
    owned->first.clear();  // programs, then the maps they used
    owned->second.clear();
  }).detach();
}

// Closes every fd of this process but the sorted `keep` (async-signal-safe: raw close_range).
void close_all_but(const std::vector<int>& keep) {
  unsigned first = 0;
  for (int fd : keep) {
    if (static_cast<unsigned>(fd) > first) syscall(SYS_close_range, first, static_cast<unsigned>(fd) - 1, 0);
    first = static_cast<unsigned>(fd) + 1;
  }
  syscall(SYS_close_range, first, ~0u, 0);
}

// Detaches in the background. A process that exits with attachments open spends those seconds
// in its exit, so a grandchild holding only the attachments takes the last references: this
// process drops its own at once and goes on (or exits), and the grandchild pays for the detach
// as it exits, once the gate pipe tells it this process has let go. Without fork, threads do it.
void close_in_background(std::vector<Fd> links, std::map<std::string, Fd> progs, std::vector<Fd> maps) {
  int gate[2];
  if (links.empty() || pipe2(gate, O_CLOEXEC) != 0) return close_on_threads(std::move(links), std::move(progs), std::move(maps));
  std::vector<int> keep{gate[0]};
  for (const auto& fd : links) keep.push_back(fd.get());
  std::sort(keep.begin(), keep.end());
  pid_t child = fork();
  if (child == 0) {
    // Only async-signal-safe calls between fork and _exit: the parent has threads.
    if (fork() == 0) {
      close_all_but(keep);
      char c;
      while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    _exit(0);
  }
  close(gate[0]);
  if (child < 0) {
    close(gate[1]);
    return close_on_threads(std::move(links), std::move(progs), std::move(maps));
  }
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  links.clear();  // cheap now: the grandchild holds the attachments
  progs.clear();
  maps.clear();
  close(gate[1]);
}

bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

class ProbeSet : public Napi::ObjectWrap<ProbeSet> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ProbeSet", {
        InstanceMethod<&ProbeSet::Load>("load"),
        InstanceMethod<&ProbeSet::Attach>("attach"),
        InstanceMethod<&ProbeSet::MapUpdate>("mapUpdate"),
        InstanceMethod<&ProbeSet::MapLookup>("mapLookup"),
        InstanceMethod<&ProbeSet::MapDelete>("mapDelete"),
        InstanceMethod<&ProbeSet::OpenRing>("openRing"),
        InstanceMethod<&ProbeSet::DrainInto>("drainInto"),
        InstanceMethod<&ProbeSet::Pending>("pending"),
        InstanceMethod<&ProbeSet::YieldCpu>("yieldCpu"),
        InstanceMethod<&ProbeSet::Yielding>("yielding"),
        InstanceMethod<&ProbeSet::Malformed>("malformed"),
        InstanceMethod<&ProbeSet::Close>("close"),
    });
  }

  // new ProbeSet(object: Buffer, mapSizes: Record<string, number>, possibleCpus: number)
  explicit ProbeSet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProbeSet>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsObject() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "ProbeSet(object: Buffer, mapSizes: object, possibleCpus: number)").ThrowAsJavaScriptException();
      return;
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Object sizes = info[1].As<Napi::Object>();
    possible_cpus_ = info[2].As<Napi::Number>().Uint32Value();
    guarded(env, [&] {
      obj_ = kcap::parse_elf_object(buf.Data(), buf.Length());
      for (auto& m : obj_.maps) {
        if (sizes.Has(m.name)) m.max_entries = sizes.Get(m.name).As<Napi::Number>().Uint32Value();
        if (m.max_entries == 0) throw std::runtime_error("map " + m.name + " needs a size (mapSizes)");
      }
      // Maps keep the object's order (programs refer to them by index); a map of rings is made
      // once the ring it is shaped like exists.
      maps_.resize(obj_.maps.size());
      for (size_t i = 0; i < obj_.maps.size(); i++) map_index_[obj_.maps[i].name] = i;
      for (size_t i = 0; i < obj_.maps.size(); i++) {
        if (obj_.maps[i].type != BPF_MAP_TYPE_ARRAY_OF_MAPS) maps_[i] = kcap::map_create(obj_.maps[i]);
      }
      for (size_t i = 0; i < obj_.maps.size(); i++) {
        if (obj_.maps[i].type == BPF_MAP_TYPE_ARRAY_OF_MAPS) maps_[i] = create_ring_array(obj_.maps[i]);
      }
      return 0;
    });
  }

 private:
  // A map of maps holds one ring buffer per entry (per CPU), each shaped like the object's
  // RINGBUF map, which serves as the entry for CPU 0.
  Fd create_ring_array(const kcap::MapSpec& m) {
    auto ring = std::find_if(obj_.maps.begin(), obj_.maps.end(), [](const kcap::MapSpec& s) { return s.type == BPF_MAP_TYPE_RINGBUF; });
    if (ring == obj_.maps.end()) throw std::runtime_error(m.name + ": no ring buffer map to shape its entries");
    const int first = maps_[map_index_[ring->name]].get();
    Fd outer = kcap::map_create(m, first);
    ring_fds_ = {first};
    for (uint32_t i = 1; i < m.max_entries; i++) {
      extra_rings_.push_back(kcap::map_create(*ring));
      ring_fds_.push_back(extra_rings_.back().get());
    }
    for (uint32_t i = 0; i < m.max_entries; i++) kcap::map_update(outer.get(), &i, &ring_fds_[i], BPF_ANY);
    ring_bytes_ = ring->max_entries;
    return outer;
  }

  // load(programs: string[]): loads these programs on as many threads as there are CPUs (the
  // verifier's work is most of a recorder's start), so attach() finds them loaded.
  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (maps_.size() != obj_.maps.size()) throw std::runtime_error("probe set is closed");
      Napi::Array names = info[0].As<Napi::Array>();
      std::vector<const kcap::ProgSpec*> todo;
      for (uint32_t i = 0; i < names.Length(); i++) {
        std::string name = names.Get(i).As<Napi::String>();
        if (!progs_.count(name) && std::none_of(todo.begin(), todo.end(), [&](auto* p) { return p->name == name; })) todo.push_back(&spec_of(name));
      }
      std::vector<Fd> loaded = load_parallel(todo);
      for (size_t i = 0; i < todo.size(); i++) progs_.emplace(todo[i]->name, std::move(loaded[i]));
      return 0;
    });
    return env.Undefined();
  }

  // Loads the programs on up to one thread per CPU; rethrows the first failure, in list order.
  std::vector<Fd> load_parallel(const std::vector<const kcap::ProgSpec*>& todo) const {
    std::vector<Fd> loaded(todo.size());
    std::vector<std::exception_ptr> errors(todo.size());
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < todo.size(); i = next++) {
        try {
          loaded[i] = load_spec(*todo[i]);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      }
    };
    const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(todo.size())));
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < n; t++) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    for (const auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    return loaded;
  }

  // attach(program: string, target: number | string): a number is a tracefs tracepoint id
  // (tracepoint programs), a string a raw tracepoint name. Loads the program on first use.
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = info[0].As<Napi::String>();
    guarded(env, [&] {
      int prog = load(name);
      if (info[1].IsNumber()) {
        links_.push_back(kcap::attach_tracepoint(prog, info[1].As<Napi::Number>().Int64Value()));
      } else {
        links_.push_back(kcap::attach_raw_tracepoint(prog, info[1].As<Napi::String>()));
      }
      return 0;
    });
    return env.Undefined();
  }

  // mapUpdate(map, key: Buffer, value: Buffer)
  Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      const kcap::MapSpec& m = map_spec(info[0]);
      auto key = sized(info[1], m.key_size, "key");
      auto value = sized(info[2], value_size(m), "value");
      kcap::map_update(maps_[map_index_[m.name]].get(), key, value, BPF_ANY);
      return 0;
    });
    return env.Undefined();
  }

  // mapLookup(map, key: Buffer): Buffer (all CPUs' values for per-CPU maps) or null
  Napi::Value MapLookup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const kcap::MapSpec& m = map_spec(info[0]);
      auto key = sized(info[1], m.key_size, "key");
      auto value = Napi::Buffer<uint8_t>::New(env, value_size(m));
      if (!kcap::map_lookup(maps_[map_index_[m.name]].get(), key, value.Data())) return env.Null();
      return value;
    });
  }

  // mapDelete(map, key: Buffer): boolean (false when absent)
  Napi::Value MapDelete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const kcap::MapSpec& m = map_spec(info[0]);
      auto key = sized(info[1], m.key_size, "key");
      return Napi::Boolean::New(env, kcap::map_delete(maps_[map_index_[m.name]].get(), key));
    });
  }

  // openRing(map): maps the per-CPU ring buffers of a map of rings for drain().
  Napi::Value OpenRing(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      const kcap::MapSpec& m = map_spec(info[0]);
      if (m.type != BPF_MAP_TYPE_ARRAY_OF_MAPS) throw std::runtime_error(m.name + " is not a map of ring buffers");
      guard_.reset();  // it reads the rings being replaced
      std::vector<std::unique_ptr<kcap::RingReader>> rings;
      for (int fd : ring_fds_) rings.push_back(std::make_unique<kcap::RingReader>(fd, ring_bytes_));
      ring_ = std::make_unique<kcap::MergedDrain>(std::move(rings));
      return 0;
    });
    return env.Undefined();
  }

  // drainInto(dst: Uint8Array, maxBytes, summary?): whole records, concatenated into dst (which
  // must hold maxBytes plus the largest record), at most maxBytes (at least one record when any
  // is ready); fills summary as MergedDrain::read_into describes; returns the bytes written. The
  // capture writer's chunk is dst, so the records reach it without a copy in between.
  Napi::Value DrainInto(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!ring_) return Napi::Number::New(env, 0);
      Napi::Uint8Array dst = info[0].As<Napi::Uint8Array>();
      const size_t max = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
      auto [summary, words] = summary_arg(info, 2);
      return Napi::Number::New(env, static_cast<double>(ring_->read_into(dst.Data(), dst.ElementLength(), max, summary, words)));
    });
  }

  static std::pair<uint32_t*, size_t> summary_arg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      return {nullptr, 0};
    }
    Napi::Uint32Array s = info[i].As<Napi::Uint32Array>();
    return {s.Data(), s.ElementLength()};
  }

  Napi::Value Pending(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ring_ ? static_cast<double>(ring_->pending()) : 0);
  }

  // yieldCpu(boostAboveBytes, yieldBelowBytes, lowNice, intervalMs): the process yields the CPU
  // while the rings have room (see priority_guard.h), until close().
  Napi::Value YieldCpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    guarded(env, [&] {
      if (!ring_) throw std::runtime_error("yieldCpu needs the rings open");
      auto n = [&](size_t i) { return info[i].As<Napi::Number>().Int64Value(); };
      kcap::YieldPolicy policy{static_cast<size_t>(n(0)), static_cast<size_t>(n(1)), static_cast<int>(n(2)), static_cast<int>(n(3))};
      kcap::MergedDrain* rings = ring_.get();
      guard_.reset();
      guard_ = std::make_unique<kcap::PriorityGuard>([rings] { return rings->pending(); }, policy);
      return 0;
    });
    return env.Undefined();
  }

  Napi::Value Yielding(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), guard_ && guard_->yielding());
  }

  Napi::Value Malformed(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ring_ ? static_cast<double>(ring_->malformed()) : 0);
  }

  // close(): detaches every program and frees every map (in the background, see
  // close_in_background). Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    guard_.reset();  // it reads the rings
    ring_.reset();
    for (auto& r : extra_rings_) maps_.push_back(std::move(r));
    extra_rings_.clear();
    ring_fds_.clear();
    close_in_background(std::move(links_), std::move(progs_), std::move(maps_));
    links_.clear();
    progs_.clear();
    maps_.clear();
    map_index_.clear();
    return info.Env().Undefined();
  }

  int load(const std::string& name) {
    auto cached = progs_.find(name);
    if (cached != progs_.end()) return cached->second.get();
    if (maps_.size() != obj_.maps.size()) throw std::runtime_error("probe set is closed");
    return progs_.emplace(name, load_spec(spec_of(name))).first->second.get();
  }

  const kcap::ProgSpec& spec_of(const std::string& name) const {
    for (const auto& p : obj_.progs) {
      if (p.name == name) return p;
    }
    throw std::runtime_error("no program " + name + " in the BPF object");
  }

  // Relocates a program's map references to this set's maps and loads it (safe on any thread:
  // it only reads the set).
  Fd load_spec(const kcap::ProgSpec& p) const {
    std::vector<uint64_t> insns = p.insns;
    for (const auto& ref : p.map_refs) {
      // ld_imm64 of a map: src_reg = BPF_PSEUDO_MAP_FD, imm = the map's fd.
      auto* insn = reinterpret_cast<bpf_insn*>(&insns[ref.insn]);
      insn->src_reg = BPF_PSEUDO_MAP_FD;
      insn->imm = maps_[ref.map].get();
    }
    return kcap::prog_load(p.type, p.name, insns, obj_.license);
  }

  const kcap::MapSpec& map_spec(const Napi::Value& v) {
    std::string name = v.As<Napi::String>();
    auto it = map_index_.find(name);
    if (it == map_index_.end()) throw std::runtime_error("no map " + name + " (or the probe set is closed)");
    return obj_.maps[it->second];
  }

  size_t value_size(const kcap::MapSpec& m) const {
    return is_percpu(m.type) ? ((m.value_size + 7) & ~7u) * possible_cpus_ : m.value_size;
  }

  static const uint8_t* sized(const Napi::Value& v, size_t size, const char* what) {
    if (!v.IsBuffer() || v.As<Napi::Buffer<uint8_t>>().Length() != size) {
      throw std::runtime_error(std::string(what) + " must be a Buffer of " + std::to_string(size) + " bytes");
    }
    return v.As<Napi::Buffer<uint8_t>>().Data();
  }

  kcap::ElfObject obj_;
  uint32_t possible_cpus_ = 1;
  std::vector<Fd> maps_;
  std::map<std::string, size_t> map_index_;
  std::map<std::string, Fd> progs_;
  std::vector<Fd> links_;
  std::vector<int> ring_fds_;        // per CPU, in CPU order (the first is a map in maps_)
  std::vector<Fd> extra_rings_;      // the rings of CPUs 1..n-1
  uint32_t ring_bytes_ = 0;
  std::unique_ptr<kcap::MergedDrain> ring_;
  std::unique_ptr<kcap::PriorityGuard> guard_;  // after ring_: destroyed before it
};

// clockAnchor(): [CLOCK_BOOTTIME ns, CLOCK_REALTIME ns] read back to back.
Napi::Value ClockAnchor(const Napi::CallbackInfo& info) {
  timespec boot{}, real{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &real);
  auto ns = [](const timespec& t) { return static_cast<int64_t>(static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec); };
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::BigInt::New(info.Env(), ns(boot)));
  out.Set(1u, Napi::BigInt::New(info.Env(), ns(real)));
  return out;
}

// loadedPrograms(): [{ id, name, runTimeNs, runCount }] of every BPF program in the system.
Napi::Value LoadedPrograms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto progs = kcap::loaded_programs();
    Napi::Array out = Napi::Array::New(env, progs.size());
    for (size_t i = 0; i < progs.size(); i++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("id", progs[i].id);
      p.Set("name", progs[i].name);
      p.Set("runTimeNs", static_cast<double>(progs[i].run_time_ns));
      p.Set("runCount", static_cast<double>(progs[i].run_cnt));
      out.Set(i, p);
    }
    return out;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ProbeSet", ProbeSet::Init(env));
  exports.Set("clockAnchor", Napi::Function::New(env, ClockAnchor));
  exports.Set("loadedPrograms", Napi::Function::New(env, LoadedPrograms));
  return exports;
}

}  // namespace

NODE_API_MODULE(kcap, Init)
