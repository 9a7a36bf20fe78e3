#pragma once
// CTB_API marks what libcovertree_bench exports: the library is built with hidden visibility
// (its internals and the third-party code it links stay private), so only these names link.
#if defined(__GNUC__) || defined(__clang__)
#define CTB_API __attribute__((visibility("default")))
#else
#define CTB_API
#endif
