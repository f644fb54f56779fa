// BPF ring buffer consumer: see ring_reader.h.
#include "ring_reader.h"

#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bpf_sys.h"

namespace kcap {

namespace {

uint64_t load_acquire(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE); }
uint32_t load_acquire32(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE); }

constexpr uint32_t kRecordHeader = 24;  // struct kcap_hdr: u32 len, u16 type, u16 cpu, u64 ts, ...
constexpr size_t kSummaryFixed = 5;      // count, first ts lo/hi, last ts lo/hi

// Folds one record's header into a batch summary (layout in ring_reader.h).
void summarize(uint32_t* s, size_t words, const uint8_t* rec) {
  uint16_t cpu;
  uint64_t ts;
  memcpy(&cpu, rec + 6, sizeof(cpu));
  memcpy(&ts, rec + 8, sizeof(ts));
  const uint64_t first = s[1] | static_cast<uint64_t>(s[2]) << 32;
  const uint64_t last = s[3] | static_cast<uint64_t>(s[4]) << 32;
  if (s[0] == 0 || ts < first) { s[1] = static_cast<uint32_t>(ts); s[2] = static_cast<uint32_t>(ts >> 32); }
  if (s[0] == 0 || ts > last) { s[3] = static_cast<uint32_t>(ts); s[4] = static_cast<uint32_t>(ts >> 32); }
  s[0]++;
  if (kSummaryFixed + cpu < words) s[kSummaryFixed + cpu]++;
}

// A record is kept only if its own length field agrees with the ring's: the output stream is
// framed by that field, so one bad record must not desynchronise everything after it.
bool framed(const uint8_t* rec, uint32_t len) {
  uint32_t own;
  if (len < kRecordHeader) return false;
  memcpy(&own, rec, sizeof(own));
  return own == len;
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

size_t RingReader::pending() const {
  return static_cast<size_t>(load_acquire(producer_) - load_acquire(consumer_));
}

// Calls on_record(data, len, state) for each committed record up to max_bytes of kept record data;
// returns the consumer position after the last one visited.
template <typename F>
size_t RingReader::walk(size_t max_bytes, F&& on_record) const {
  const uint64_t prod = load_acquire(producer_);
  uint64_t cons = load_acquire(consumer_);
  const uint8_t* data = producer_ + page_;
  size_t taken = 0;
  while (cons < prod) {
    const uint8_t* hdr = data + (cons & (size_ - 1));
    uint32_t word = load_acquire32(hdr);
    if (word & BPF_RINGBUF_BUSY_BIT) break;
    uint32_t len = word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    const uint8_t* rec = hdr + BPF_RINGBUF_HDR_SZ;
    Kind kind = (word & BPF_RINGBUF_DISCARD_BIT) ? Kind::Discarded : framed(rec, len) ? Kind::Kept : Kind::Malformed;
    if (kind == Kind::Kept) {
      if (taken > 0 && taken + len > max_bytes) break;
      taken += len;
    }
    on_record(rec, len, kind);
    cons += (static_cast<uint64_t>(len) + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
  }
  return static_cast<size_t>(cons);
}

size_t RingReader::ready_bytes(size_t max_bytes) const {
  size_t total = 0;
  walk(max_bytes, [&](const uint8_t*, uint32_t len, Kind kind) { if (kind == Kind::Kept) total += len; });
  return total;
}

size_t RingReader::read_into(uint8_t* out, size_t bytes, uint32_t* summary, size_t summary_words) {
  if (summary) memset(summary, 0, summary_words * sizeof(uint32_t));
  size_t done = 0;
  uint64_t cons = walk(bytes, [&](const uint8_t* rec, uint32_t len, Kind kind) {
    if (kind == Kind::Malformed) malformed_++;
    if (kind != Kind::Kept) return;
    memcpy(out + done, rec, len);
    if (summary && summary_words >= kSummaryFixed) summarize(summary, summary_words, out + done);
    done += len;
  });
  __atomic_store_n(reinterpret_cast<uint64_t*>(consumer_), cons, __ATOMIC_RELEASE);
  return done;
}

}  // namespace kcap
