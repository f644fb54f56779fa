// BPF ELF object reader: see elf_object.h.
#include "elf_object.h"

#include <elf.h>
#include <linux/bpf.h>

#include <cstring>
#include <map>

namespace kcap {

namespace {

#ifndef EM_BPF
#define EM_BPF 247
#endif
#ifndef R_BPF_64_64
#define R_BPF_64_64 1
#endif

// Layout of struct kcap_map_def in native/bpf/kcap_bpf.h.
struct MapDef {
  uint32_t type, key_size, value_size, max_entries, map_flags;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <typename T>
  T at(uint64_t off, const char* what) const {
    if (off > size_ || sizeof(T) > size_ - off) throw ElfError(std::string("BPF object truncated reading ") + what);
    T v;
    memcpy(&v, data_ + off, sizeof(T));
    return v;
  }

  const uint8_t* span(uint64_t off, uint64_t len, const char* what) const {
    if (off > size_ || len > size_ - off) throw ElfError(std::string("BPF object truncated reading ") + what);
    return data_ + off;
  }

  std::string str(uint64_t table_off, uint64_t table_len, uint32_t idx) const {
    if (idx >= table_len) throw ElfError("BPF object: string index out of range");
    const char* s = reinterpret_cast<const char*>(span(table_off, table_len, "string table")) + idx;
    return std::string(s, strnlen(s, table_len - idx));
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

uint32_t prog_type_of(const std::string& section) {
  if (section.rfind("tracepoint/", 0) == 0) return BPF_PROG_TYPE_TRACEPOINT;
  if (section.rfind("raw_tracepoint/", 0) == 0) return BPF_PROG_TYPE_RAW_TRACEPOINT;
  throw ElfError("BPF object: unknown program section " + section);
}

}  // namespace

ElfObject parse_elf_object(const uint8_t* data, size_t size) {
  Reader r(data, size);
  auto eh = r.at<Elf64_Ehdr>(0, "ELF header");
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_BPF) {
    throw ElfError("not a little-endian 64-bit BPF ELF object");
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum) {
    throw ElfError("BPF object: bad section header table");
  }
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  for (size_t i = 0; i < sh.size(); i++) sh[i] = r.at<Elf64_Shdr>(eh.e_shoff + i * sizeof(Elf64_Shdr), "section headers");
  const Elf64_Shdr& shstr = sh[eh.e_shstrndx];
  auto sec_name = [&](size_t i) { return r.str(shstr.sh_offset, shstr.sh_size, sh[i].sh_name); };

  ElfObject obj;
  size_t maps_sec = 0, symtab = 0;
  for (size_t i = 1; i < sh.size(); i++) {
    std::string name = sec_name(i);
    if (sh[i].sh_type == SHT_SYMTAB) symtab = i;
    if (name == "maps") maps_sec = i;
    if (name == "license") {
      const char* s = reinterpret_cast<const char*>(r.span(sh[i].sh_offset, sh[i].sh_size, "license"));
      obj.license.assign(s, strnlen(s, sh[i].sh_size));
    }
  }
  if (!symtab || sh[symtab].sh_link >= sh.size()) throw ElfError("BPF object has no symbol table");
  const Elf64_Shdr& strtab = sh[sh[symtab].sh_link];
  size_t nsyms = sh[symtab].sh_size / sizeof(Elf64_Sym);
  std::vector<Elf64_Sym> syms(nsyms);
  for (size_t i = 0; i < nsyms; i++) syms[i] = r.at<Elf64_Sym>(sh[symtab].sh_offset + i * sizeof(Elf64_Sym), "symbols");
  auto sym_name = [&](const Elf64_Sym& s) { return r.str(strtab.sh_offset, strtab.sh_size, s.st_name); };

  // Maps: every symbol defined in the maps section, by its offset there.
  std::map<uint64_t, size_t> map_at;
  if (maps_sec) {
    for (const auto& s : syms) {
      if (s.st_shndx != maps_sec) continue;
      if (s.st_value + sizeof(MapDef) > sh[maps_sec].sh_size) throw ElfError("BPF object: map definition out of range");
      auto d = r.at<MapDef>(sh[maps_sec].sh_offset + s.st_value, "map definition");
      map_at[s.st_value] = obj.maps.size();
      obj.maps.push_back({sym_name(s), d.type, d.key_size, d.value_size, d.max_entries, d.map_flags});
    }
  }

  // Programs: one global function per executable section.
  std::map<size_t, size_t> prog_of_section;
  for (const auto& s : syms) {
    if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || ELF64_ST_BIND(s.st_info) != STB_GLOBAL) continue;
    if (s.st_shndx == SHN_UNDEF || s.st_shndx >= sh.size()) continue;
    const Elf64_Shdr& sec = sh[s.st_shndx];
    if (!(sec.sh_flags & SHF_EXECINSTR) || sec.sh_size == 0) continue;
    if (s.st_value != 0 || prog_of_section.count(s.st_shndx)) {
      throw ElfError("BPF object: section " + sec_name(s.st_shndx) + " holds more than one function (inline helpers)");
    }
    ProgSpec p;
    p.name = sym_name(s);
    p.section = sec_name(s.st_shndx);
    p.type = prog_type_of(p.section);
    p.insns.resize(sec.sh_size / 8);
    memcpy(p.insns.data(), r.span(sec.sh_offset, p.insns.size() * 8, "program"), p.insns.size() * 8);
    prog_of_section[s.st_shndx] = obj.progs.size();
    obj.progs.push_back(std::move(p));
  }

  // Relocations: only references to maps (ld_imm64 of a map symbol) are supported.
  for (size_t i = 1; i < sh.size(); i++) {
    if (sh[i].sh_type != SHT_REL) continue;
    auto target = prog_of_section.find(sh[i].sh_info);
    if (target == prog_of_section.end()) continue;
    ProgSpec& p = obj.progs[target->second];
    size_t nrel = sh[i].sh_size / sizeof(Elf64_Rel);
    for (size_t k = 0; k < nrel; k++) {
      auto rel = r.at<Elf64_Rel>(sh[i].sh_offset + k * sizeof(Elf64_Rel), "relocations");
      size_t si = ELF64_R_SYM(rel.r_info);
      if (si >= syms.size()) throw ElfError("BPF object: relocation symbol out of range");
      const Elf64_Sym& s = syms[si];
      auto m = map_at.find(s.st_value);
      if (ELF64_R_TYPE(rel.r_info) != R_BPF_64_64 || s.st_shndx != maps_sec || m == map_at.end()) {
        throw ElfError("BPF object: unsupported relocation to " + sym_name(s) + " in " + p.section);
      }
      size_t insn = rel.r_offset / 8;
      if (rel.r_offset % 8 || insn + 1 >= p.insns.size()) throw ElfError("BPF object: relocation offset out of range");
      p.map_refs.push_back({insn, m->second});
    }
  }
  if (obj.license.empty()) throw ElfError("BPF object has no license section");
  return obj;
}

}  // namespace kcap
