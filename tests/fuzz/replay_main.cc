// A fuzz target as an ordinary test (built with any compiler, run by `bazel test`): its seed inputs,
// then a fixed number of deterministic mutations of them (bytes flipped, inserted, erased, seeds
// spliced). The real, coverage-guided runs are libFuzzer's (tests/fuzz/README.md).
//
//   replay_test <seed file or directory>... [--mutations=N]
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Collect(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "no such seed: %s\n", path.c_str());
    std::exit(2);
  }
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = opendir(path.c_str());
    while (struct dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') Collect(path + "/" + entry->d_name, out);
    }
    closedir(dir);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  out->push_back(bytes.str());
}

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> seeds = {""};
  long mutations = 20000;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::strtol(arg.c_str() + 12, nullptr, 10);
    } else {
      Collect(arg, &seeds);
    }
  }
  for (const std::string& seed : seeds) Run(seed);
  std::mt19937_64 rng(20261206);
  for (long n = 0; n < mutations; ++n) {
    std::string input = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 5) {
        case 0:
          if (at < input.size()) input[at] = static_cast<char>(input[at] ^ (1u << (rng() % 8)));
          break;
        case 1:
          input.insert(at, 1, static_cast<char>(rng() % 256));
          break;
        case 2:
          if (at < input.size()) input.erase(at, 1 + rng() % 4);
          break;
        case 3:
          input.insert(at, seeds[rng() % seeds.size()].substr(0, 16));
          break;
        default:
          if (at < input.size()) input[at] = "{}[]\":,\\u0"[rng() % 11];
      }
    }
    Run(input);
  }
  std::printf("%zu seeds and %ld mutations ran\n", seeds.size(), mutations);
  return 0;
}
