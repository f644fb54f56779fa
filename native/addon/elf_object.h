// Reads the kcap BPF object (an ELF relocatable file from clang -target bpf): its map
// definitions (the "maps" section, struct kcap_map_def per symbol), its programs (one function
// per executable section; the section prefix gives the program type) and the map references each
// program's ld_imm64 instructions must receive. The object ships with the package, but it is
// still checked like untrusted input: every offset is bounds-checked.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf_sys.h"

namespace kcap {

class ElfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MapRef {
  size_t insn;      // index of the ld_imm64 instruction
  size_t map;       // index into ElfObject::maps
};

struct ProgSpec {
  std::string name;     // function symbol
  std::string section;  // e.g. "tracepoint/sys_exit_read"
  uint32_t type;        // BPF_PROG_TYPE_*
  std::vector<uint64_t> insns;
  std::vector<MapRef> map_refs;
};

struct ElfObject {
  std::vector<MapSpec> maps;
  std::vector<ProgSpec> progs;
  std::string license;
};

ElfObject parse_elf_object(const uint8_t* data, size_t size);

}  // namespace kcap
