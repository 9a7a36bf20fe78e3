// Thin CLI front-end: parses arguments and calls the library. Placeholder until wired.
#include <cstdio>

int main() {
  std::puts("covertree-bench");
  return 0;
}
