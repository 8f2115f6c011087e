// Large, long-lived buffers (the KV cache pool, packed weights) on transparent huge pages where
// the kernel offers them.
//
// A decode step reads the KV rows of every running sequence: 4 KB runs of one kv head, one per
// cache block, scattered over a pool of hundreds of MB. On 4 KB pages each run is its own page:
// a TLB miss, and the hardware prefetcher stops at every page boundary. Buffers of 2 MB or more
// are therefore 2 MB-aligned and marked MADV_HUGEPAGE (Linux with THP in "madvise" or
// "always" mode; elsewhere the hint is ignored and the buffer is ordinary memory). Pages are
// still only made resident as they are touched (2 MB at a time instead of 4 KB).
// PARLEY_HUGE_PAGES=0 turns the hint off (for comparisons).
#pragma once

#include <cstddef>

namespace parley {

// n bytes, 64-byte aligned (2 MB-aligned and huge-page hinted from 2 MB up), or null when the
// allocation fails. Free it with std::free.
void* allocate_large(size_t n);

// Whether allocate_large gives huge-page hints (not PARLEY_HUGE_PAGES=0).
bool huge_pages_wanted();
// Whether such a hint is honoured here (THP enabled as madvise or always).
bool huge_pages_available();

}  // namespace parley
