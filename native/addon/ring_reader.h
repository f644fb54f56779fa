// Consumer side of the kcap ring buffers (BPF_MAP_TYPE_RINGBUF), read through their mmap'd pages
// with no syscall per record. The kernel maps each data area twice back to back, so a record that
// wraps around the end is still contiguous in memory.
//
// There is one ring per CPU: a shared ring's lock, producer position and record headers would
// bounce between CPUs on every record. MergedDrain reads them all as one stream in timestamp
// order, so the recorder still writes events in the order they happened.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kcap_abi.h"

namespace kcap {

// A position in one ring, and how far the producer had written when it was taken.
struct RingCursor {
  uint64_t pos;
  uint64_t end;
};

class RingReader {
 public:
  RingReader(int map_fd, size_t data_size);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // From the consumer position to what the producer has written so far.
  RingCursor cursor() const;
  // The next committed record at c (discarded ones skipped, malformed ones skipped and counted),
  // or nullptr when none is committed yet. Does not move c past the record it returns.
  const uint8_t* peek(RingCursor& c, uint32_t& len);
  // Moves c past the record peek returned.
  static void advance(RingCursor& c, uint32_t len);
  // Hands everything before c back to the producer.
  void consume(const RingCursor& c);
  // Bytes the producer has written that are not yet consumed.
  size_t pending() const;
  // Records skipped because their length field disagreed with the ring's.
  uint64_t malformed() const { return malformed_; }

 private:
  uint8_t* consumer_ = nullptr;  // consumer page (read-write)
  uint8_t* producer_ = nullptr;  // producer page + data area twice (read-only)
  size_t page_;
  size_t size_;
  uint64_t malformed_ = 0;
};

// The largest record the programs write: their lengths are masked with VAR_MASK (kcap_common.h).
constexpr size_t kMaxRecordBytes = KCAP_RECORD_MAX;

// Drains a set of rings (one per CPU) as one stream of whole records in timestamp order.
class MergedDrain {
 public:
  explicit MergedDrain(std::vector<std::unique_ptr<RingReader>> rings) : rings_(std::move(rings)) {}

  // Copies records to dst, oldest first, until the next would take them past max_bytes (at least
  // one record when any is ready, so dst must hold max_bytes + kMaxRecordBytes), and consumes
  // them. With a summary (u32 words: count, first ts lo/hi, last ts lo/hi, then records per CPU)
  // fills it in on the way, so the caller need not walk the records again. Returns the bytes copied.
  size_t read_into(uint8_t* dst, size_t cap, size_t max_bytes, uint32_t* summary, size_t summary_words);
  // The largest number of bytes waiting in any one ring (a ring that fills drops records).
  size_t pending() const;
  uint64_t malformed() const;

 private:
  std::vector<std::unique_ptr<RingReader>> rings_;
};

}  // namespace kcap
