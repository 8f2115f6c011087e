// The prefix hashes of a request, for prefix-affinity routing among replicas (router.h). The
// gateway has no tokenizer for upstream models, so it hashes the canonical request content, not
// tokens: a chain over the model id, the tools and the leading system messages, then one step
// per further message. Two requests share hash i exactly when they share that much of the
// conversation, so the next turn of a conversation (its history grown) matches the previous
// turn's longest hash, and conversations with the same system prompt and tools (Claude Code's)
// match the first one.
#pragma once

#include <cstdint>
#include <vector>

#include "api/chat-request.h"

namespace parley::upstream {

// Shortest prefix first. hashes[0] covers model + tools + leading system messages; hashes[k]
// ends after message k of the rest. Long conversations keep the first and the last
// `max_hashes - 1` (a turn adds a few messages, so the previous turn's end is near the tail).
// What does not reach the prompt (cache_control breakpoints, sampling controls) is left out.
std::vector<uint64_t> prefix_hashes(const api::ChatRequest& req, size_t max_hashes = 32);

}  // namespace parley::upstream
