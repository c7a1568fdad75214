#include "worker/build_id.h"

#include <elf.h>
#include <link.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/sha256.h"

namespace isobar::worker {
namespace {

// The object's NT_GNU_BUILD_ID note, or empty.
absl::string_view BuildIdOf(const dl_phdr_info& info) {
  for (int i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info.dlpi_phdr[i];
    if (segment.p_type != PT_NOTE) continue;
    const char* at = reinterpret_cast<const char*>(info.dlpi_addr + segment.p_vaddr);
    const char* const end = at + segment.p_memsz;
    const auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
    while (at + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, at, sizeof(note));
      const char* name = at + sizeof(note);
      const char* desc = name + align4(note.n_namesz);
      const char* next = desc + align4(note.n_descsz);
      if (next > end || next <= at) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        return absl::string_view(desc, note.n_descsz);
      }
      at = next;
    }
  }
  return {};
}

}  // namespace

std::string LoadedBuildId() {
  Sha256Stream hash;
  dl_iterate_phdr(
      +[](dl_phdr_info* info, size_t, void* data) {
        auto& out = *static_cast<Sha256Stream*>(data);
        const absl::string_view id = BuildIdOf(*info);
        const absl::string_view part =
            !id.empty() ? id : absl::string_view(info->dlpi_name == nullptr ? "" : info->dlpi_name);
        out.Update(absl::StrCat(id.empty() ? "path:" : "id:", part.size(), ":"));  // (unambiguous)
        out.Update(part);
        return 0;
      },
      &hash);
  return absl::BytesToHexString(std::move(hash).Finish());
}

}  // namespace isobar::worker
