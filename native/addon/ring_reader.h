// Consumer side of a BPF ring buffer (BPF_MAP_TYPE_RINGBUF), read through its mmap'd pages with
// no syscall per record. The kernel maps the data area twice back to back, so a record that wraps
// around the end is still contiguous in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace kcap {

class RingReader {
 public:
  RingReader(int map_fd, size_t data_size);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // Bytes of whole, committed records ready to read, stopping before max_bytes would be
  // exceeded (but at least one record when any is ready).
  size_t ready_bytes(size_t max_bytes) const;
  // Copies exactly the records ready_bytes(max_bytes) counted into out and consumes them. With a
  // summary (u32 words: count, first ts lo/hi, last ts lo/hi, then records per CPU), fills it in
  // on the way, so the caller need not walk the records again.
  size_t read_into(uint8_t* out, size_t bytes, uint32_t* summary = nullptr, size_t summary_words = 0);
  // Bytes the producer has written that are not yet consumed.
  size_t pending() const;
  // Records skipped because their length field disagreed with the ring's.
  uint64_t malformed() const { return malformed_; }

 private:
  enum class Kind { Kept, Discarded, Malformed };

  template <typename F>
  size_t walk(size_t max_bytes, F&& on_record) const;

  uint8_t* consumer_ = nullptr;  // consumer page (read-write)
  uint8_t* producer_ = nullptr;  // producer page + data area twice (read-only)
  size_t page_;
  size_t size_;
  uint64_t malformed_ = 0;
};

}  // namespace kcap
