// BPF ring buffer consumers: see ring_reader.h.
#include "ring_reader.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <queue>
#include <stdexcept>

#include "bpf_sys.h"

namespace kcap {

namespace {

uint64_t load_acquire(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE); }
uint32_t load_acquire32(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE); }

constexpr uint32_t kRecordHeader = KCAP_HDR_SIZE;
constexpr size_t kSummaryFixed = KCAP_SUMMARY_FIXED;

// A record is kept only if its own length field agrees with the ring's: the output stream is
// framed by that field, so one bad record must not desynchronise everything after it.
bool framed(const uint8_t* rec, uint32_t len) {
  uint32_t own;
  if (len < kRecordHeader) return false;
  memcpy(&own, rec, sizeof(own));
  return own == len;
}

uint64_t ts_of(const uint8_t* rec) {
  uint64_t ts;
  memcpy(&ts, rec + KCAP_HDR_TS, sizeof(ts));
  return ts;
}

// Folds one record's header into a batch summary (layout in ring_reader.h).
void summarize(uint32_t* s, size_t words, const uint8_t* rec) {
  uint16_t cpu;
  memcpy(&cpu, rec + KCAP_HDR_CPU, sizeof(cpu));
  const uint64_t ts = ts_of(rec);
  const uint64_t first = s[1] | static_cast<uint64_t>(s[2]) << 32;
  const uint64_t last = s[3] | static_cast<uint64_t>(s[4]) << 32;
  if (s[0] == 0 || ts < first) { s[1] = static_cast<uint32_t>(ts); s[2] = static_cast<uint32_t>(ts >> 32); }
  if (s[0] == 0 || ts > last) { s[3] = static_cast<uint32_t>(ts); s[4] = static_cast<uint32_t>(ts >> 32); }
  s[0]++;
  if (kSummaryFixed + cpu < words) s[kSummaryFixed + cpu]++;
}

}  // namespace

RingReader::RingReader(int map_fd, size_t data_size) : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))), size_(data_size) {
  void* c = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (c == MAP_FAILED) throw SysError("mmap ring buffer consumer page", errno);
  void* p = mmap(nullptr, page_ + 2 * size_, PROT_READ, MAP_SHARED, map_fd, static_cast<off_t>(page_));
  if (p == MAP_FAILED) {
    int err = errno;
    munmap(c, page_);
    throw SysError("mmap ring buffer data", err);
  }
  consumer_ = static_cast<uint8_t*>(c);
  producer_ = static_cast<uint8_t*>(p);
}

RingReader::~RingReader() {
  munmap(consumer_, page_);
  munmap(producer_, page_ + 2 * size_);
}

RingCursor RingReader::cursor() const {
  return {load_acquire(consumer_), load_acquire(producer_)};
}

const uint8_t* RingReader::peek(RingCursor& c, uint32_t& len) {
  const uint8_t* data = producer_ + page_;
  while (c.pos < c.end) {
    const uint8_t* hdr = data + (c.pos & (size_ - 1));
    uint32_t word = load_acquire32(hdr);
    if (word & BPF_RINGBUF_BUSY_BIT) return nullptr;
    len = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    const uint8_t* rec = hdr + BPF_RINGBUF_HDR_SZ;
    if (!(word & BPF_RINGBUF_DISCARD_BIT)) {
      if (framed(rec, len)) return rec;
      malformed_++;
    }
    advance(c, len);
  }
  return nullptr;
}

void RingReader::advance(RingCursor& c, uint32_t len) {
  c.pos += (static_cast<uint64_t>(len) + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

void RingReader::consume(const RingCursor& c) {
  __atomic_store_n(reinterpret_cast<uint64_t*>(consumer_), c.pos, __ATOMIC_RELEASE);
}

size_t RingReader::pending() const {
  return static_cast<size_t>(load_acquire(producer_) - load_acquire(consumer_));
}

size_t MergedDrain::read_into(uint8_t* dst, size_t cap, size_t max_bytes, uint32_t* summary, size_t summary_words) {
  if (summary) memset(summary, 0, summary_words * sizeof(uint32_t));
  // The ring whose next record is oldest goes first: a min-heap of (ts, ring).
  using Head = std::pair<uint64_t, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  std::vector<RingCursor> cur(rings_.size());
  std::vector<const uint8_t*> rec(rings_.size());
  std::vector<uint32_t> len(rings_.size());
  auto load = [&](size_t i) {
    rec[i] = rings_[i]->peek(cur[i], len[i]);
    if (rec[i]) heads.push({ts_of(rec[i]), i});
  };
  for (size_t i = 0; i < rings_.size(); i++) {
    cur[i] = rings_[i]->cursor();
    load(i);
  }
  size_t taken = 0;
  while (!heads.empty()) {
    const size_t i = heads.top().second;
    if (taken > 0 && taken + len[i] > max_bytes) break;
    if (taken + len[i] > cap) throw std::length_error("drain buffer smaller than a record");
    heads.pop();
    memcpy(dst + taken, rec[i], len[i]);
    taken += len[i];
    if (summary && summary_words >= kSummaryFixed) summarize(summary, summary_words, rec[i]);
    RingReader::advance(cur[i], len[i]);
    load(i);
  }
  for (size_t i = 0; i < rings_.size(); i++) rings_[i]->consume(cur[i]);
  return taken;
}

size_t MergedDrain::pending() const {
  size_t most = 0;
  for (const auto& r : rings_) most = std::max(most, r->pending());
  return most;
}

uint64_t MergedDrain::malformed() const {
  uint64_t n = 0;
  for (const auto& r : rings_) n += r->malformed();
  return n;
}

}  // namespace kcap
